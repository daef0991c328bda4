/** A one-line progress bar on stderr (redrawn on a TTY, periodic plain lines otherwise). */
export class ProgressBar {
  private readonly start = performance.now();
  private lastPlain = 0;
  /** The count at the first update: a resumed job's rate and ETA count only the work done here. */
  private base: number | null = null;
  private readonly tty: boolean;

  constructor(private readonly total: number, private readonly label = '', private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY) && !process.env.CI;
  }

  update(done: number, info = ''): void {
    const elapsed = (performance.now() - this.start) / 1000;
    const frac = this.total ? done / this.total : 1;
    if (this.base === null) this.base = Math.max(0, done - 1);
    const doneHere = done - this.base;
    const eta = doneHere > 0 ? (elapsed / doneHere) * (this.total - done) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const line = `${this.label} [${bar}] ${done}/${this.total} ${elapsed.toFixed(1)}s eta ${eta.toFixed(1)}s ${info}`;
    if (this.tty) this.stream.write(`\r${line}\x1b[K`);
    else if (done === this.total || performance.now() - this.lastPlain > 5000) {
      this.lastPlain = performance.now();
      this.stream.write(line + '\n');
    }
  }

  done(): void {
    if (this.tty) this.stream.write('\n');
  }
}
