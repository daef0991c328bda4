import { existsSync, readFileSync } from 'node:fs';
import { applyOverrides, TRAIN_DEFAULTS, type TrainConfig } from '../../train/config.js';
import { setupRun } from '../../train/setup.js';
import { forwardFlops, modelShape } from '../../analysis/index.js';
import { measurePeakGflops, Trainer } from '../../train/trainer.js';
import { ProgressBar } from '../progress.js';
import { UsageError, type Command } from '../command.js';

function describeDefaults(): string {
  return Object.entries(TRAIN_DEFAULTS).map(([k, v]) => `  --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).padEnd(18)} ${JSON.stringify(v)}`).join('\n');
}

/** `--config FILE`, `--json`, and `--key value` / `--flag` overrides (booleans may omit the value). */
export function parseTrainArgs(argv: string[]): { config: TrainConfig; json: boolean } {
  let file: string | undefined;
  let json = false;
  const overrides: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}' (options are --key value)`);
    const [rawKey, inline] = arg.slice(2).split(/=(.*)/s) as [string, string | undefined];
    if (rawKey === 'json') {
      json = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) value = 'true'; // a bare flag: --resume
      else value = argv[++i]!;
    }
    if (rawKey === 'config') file = value;
    else overrides[rawKey] = value;
  }
  let base: TrainConfig = { ...TRAIN_DEFAULTS, modelConfig: {} };
  if (file !== undefined) {
    if (!existsSync(file)) throw new UsageError(`--config: no such file '${file}'`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`--config: '${file}' is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--config: '${file}' must hold a JSON object`);
    base = applyOverrides(base, parsed as Record<string, unknown>, { source: file });
  }
  return { config: applyOverrides(base, overrides, { fromStrings: true, source: 'command line' }), json };
}

export const train: Command = {
  name: 'train',
  summary: 'train or fine-tune a model on a prepared dataset (causal LM, masked LM, seq2seq, classification), with checkpoints and resume',
  usage: `attn train [--config FILE.json] [--key value ...] [--json]

Trains the model of the config on a dataset written by 'attn data prepare'. FILE.json holds
TrainConfig keys (camelCase); '--key value' overrides them (kebab-case or camelCase), checked
against the types below. Writes to outDir: metrics.jsonl (train and eval records),
checkpoint-<step>/ (a Hugging Face folder + optimizer state + trainer_state.json; '--resume'
continues from the newest exactly) and model/ (the final model in exportDtype).
'model' is a preset (attn calc --help lists them) or a Hugging Face folder to fine-tune;
'modelConfig' is a JSON object of config.json fields applied over the preset.
Objectives: causal-lm and mlm (BERT) train on token datasets; seq2seq (model_type t5 or
transformer) and classification (bert; num_labels and id2label come from the dataset) on example
datasets ('attn data prepare --format seq2seq|classification'), where seqLen truncates each
source, target and text, and evaluation adds accuracy (classification) or token accuracy and
exact match (seq2seq: every target token right under teacher forcing = greedy decoding
reproduces the target).

Keys and defaults:
${describeDefaults()}

  --json              print the summary as JSON (progress still goes to stderr)`,
  run(argv) {
    const { config, json } = parseTrainArgs(argv);
    const run = setupRun(config);
    if (config.peakGflops === 0) config.peakGflops = measurePeakGflops();
    const params = run.model.numParameters();
    if (!json) {
      console.log(`model ${String(run.modelConfig['model_type'])} ${(params / 1e6).toFixed(2)}M parameters; data ${config.data}: ${run.dataSummary}`);
      console.log(`${config.steps} steps x ${config.gradAccumSteps * config.batchSize * config.seqLen} tokens; ${config.optimizer} lr ${config.lr} (${config.schedule}, warmup ${config.warmupSteps}); peak ${config.peakGflops.toFixed(1)} GFLOPS for MFU`);
    }
    const bar = new ProgressBar(config.steps, 'train');
    let lastEval = '';
    const trainer = new Trainer({
      model: run.model,
      modelConfig: run.modelConfig,
      config,
      loss: run.loss,
      train: run.train,
      ...(run.validation ? { validation: run.validation } : {}),
      ...(run.evaluateBatch ? { evaluateBatch: run.evaluateBatch } : {}),
      // forward + backward FLOPs of a token at this sequence length (the calculator's count: matmuls and attention)
      flopsPerToken: forwardFlops(modelShape(run.modelConfig), { seq: config.seqLen }).training / config.seqLen,
      copyFiles: run.copyFiles,
      onStep: (m) => bar.update(m.step, `loss ${m.loss.toFixed(4)} lr ${m.lr.toExponential(2)} ${(m.tokensPerSecond / 1000).toFixed(2)}k tok/s` +
        (m.mfu === null ? '' : ` mfu ${(100 * m.mfu).toFixed(1)}%`) + lastEval),
      onEval: (e) => {
        const figures = Object.entries(e.metrics ?? {}).map(([k, v]) => `, ${k.replace('_', ' ')} ${(100 * v).toFixed(1)}%`).join('');
        lastEval = ` val ${e.loss.toFixed(4)}`;
        if (!json) process.stderr.write(`${process.stderr.isTTY && !process.env.CI ? '\n' : ''}step ${e.step}: val loss ${e.loss.toFixed(4)}, perplexity ${e.perplexity.toFixed(2)}${figures}\n`);
      },
    });
    const summary = trainer.run();
    bar.done();
    const result = {
      steps: summary.steps,
      resumed_from: summary.resumedFrom,
      tokens_seen: summary.tokensSeen,
      train_seconds: summary.trainSeconds,
      final_loss: summary.finalLoss,
      val_loss: summary.validation?.loss ?? null,
      val_perplexity: summary.validation?.perplexity ?? null,
      ...Object.fromEntries(Object.entries(summary.validation?.metrics ?? {}).map(([k, v]) => [`val_${k}`, v])),
      parameters: params,
      model_dir: summary.modelDir,
    };
    if (json) console.log(JSON.stringify(result));
    else {
      console.log(`done: ${summary.steps} steps, ${summary.tokensSeen} tokens in ${summary.trainSeconds.toFixed(1)} s; final train loss ${summary.finalLoss.toFixed(4)}` +
        (summary.validation ? `, val loss ${summary.validation.loss.toFixed(4)} (perplexity ${summary.validation.perplexity.toFixed(2)})` : '') +
        Object.entries(summary.validation?.metrics ?? {}).map(([k, v]) => `, ${k.replace('_', ' ')} ${(100 * v).toFixed(1)}%`).join(''));
      console.log(`model written to ${summary.modelDir}`);
    }
  },
};
