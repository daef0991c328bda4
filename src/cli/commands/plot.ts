import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../formats/index.js';
import { basename, dirname } from 'node:path';
import { lineChartSvg, type Series } from '../../analysis/line-chart.js';
import { UsageError, type Command } from '../command.js';

interface MetricRecord { type?: string; step?: number; [k: string]: unknown }

/** The metrics.jsonl of a run (a file or a training output folder). */
function readMetrics(path: string): MetricRecord[] {
  const file = existsSync(`${path}/metrics.jsonl`) ? `${path}/metrics.jsonl` : path;
  if (!existsSync(file)) throw new UsageError(`no metrics file at '${path}' (expected metrics.jsonl or a training output folder)`);
  const out: MetricRecord[] = [];
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as MetricRecord);
    } catch {
      throw new UsageError(`${file}:${i + 1}: not a JSON line`);
    }
  });
  return out;
}

function runName(path: string): string {
  return path.endsWith('metrics.jsonl') ? basename(dirname(path)) : basename(path);
}

function writeAtomic(path: string, bytes: string | Uint8Array): void {
  writeFileAtomic(path, typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
}

export const plot: Command = {
  name: 'plot',
  summary: 'plot training curves from metrics.jsonl files to SVG or PNG',
  usage: `attn plot RUN [RUN ...] --out FILE.svg|FILE.png [--metric loss|val_loss|lr|grad_norm|tokens_per_s|mfu]
          [--x step|tokens] [--log-y] [--title T] [--no-val]

RUN is a training output folder (with metrics.jsonl) or a metrics.jsonl file; each run is one
series (named after its folder). With --metric loss (default) the validation loss of each run is
drawn dashed beside its training loss. PNG is rendered from the SVG with resvg.

Options:
  --out FILE      output path; .svg or .png
  --metric M      the field of the 'train' records to plot (default loss)
  --x X           step (default) or tokens
  --log-y         logarithmic y axis
  --title T       chart title
  --no-val        leave out validation curves`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string' }, metric: { type: 'string' }, x: { type: 'string' }, 'log-y': { type: 'boolean' },
        title: { type: 'string' }, 'no-val': { type: 'boolean' },
      },
      strict: true,
    });
    if (positionals.length === 0) throw new UsageError('give at least one RUN (a training output folder or metrics.jsonl)');
    if (!values.out) throw new UsageError('--out FILE.svg|FILE.png is required');
    const format = values.out.endsWith('.png') ? 'png' : values.out.endsWith('.svg') ? 'svg' : null;
    if (!format) throw new UsageError(`--out: '${values.out}' must end in .svg or .png`);
    const metric = values.metric ?? 'loss';
    const xKey = values.x ?? 'step';
    if (xKey !== 'step' && xKey !== 'tokens') throw new UsageError(`--x: expected step or tokens, got '${xKey}'`);
    const series: Series[] = [];
    for (const path of positionals) {
      const records = readMetrics(path);
      const name = runName(path);
      const train = records.filter((r) => r.type === 'train' && typeof r[metric] === 'number');
      if (train.length === 0 && metric !== 'val_loss') throw new UsageError(`${path}: no train records with a numeric '${metric}'`);
      if (metric !== 'val_loss') series.push({ name: positionals.length > 1 ? name : metric, points: train.map((r) => [Number(r[xKey]), Number(r[metric])]) });
      if ((metric === 'loss' && !values['no-val']) || metric === 'val_loss') {
        const val = records.filter((r) => r.type === 'eval' && typeof r['val_loss'] === 'number');
        if (val.length) series.push({ name: `${positionals.length > 1 ? name : ''} val`.trim(), points: val.map((r) => [Number(r[xKey]), Number(r['val_loss'])]), dashed: metric === 'loss' });
      }
    }
    const svg = lineChartSvg(series, {
      title: values.title ?? (positionals.length === 1 ? `${runName(positionals[0]!)}: ${metric}` : metric),
      xLabel: xKey === 'step' ? 'step' : 'tokens seen',
      yLabel: metric,
      logY: values['log-y'] ?? false,
    });
    if (format === 'svg') writeAtomic(values.out, svg);
    else {
      const { Resvg } = await import('@resvg/resvg-js');
      const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
      writeAtomic(values.out, png);
    }
    console.log(`wrote ${values.out} (${series.length} series)`);
  },
};
