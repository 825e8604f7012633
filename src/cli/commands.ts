/**
 * The commands, their one-line descriptions, and the module that registers each. Light on
 * purpose: `preempt --help` lists these without loading TensorFlow.js, kafkajs or fastify;
 * a command's own module (and what it needs) is loaded only when that command runs.
 */
import type { Command } from 'commander'

type Register = (program: Command, env: NodeJS.ProcessEnv) => void

const load = {
  kafka: async (): Promise<Register> => (await import('./kafka.js')).registerKafkaCommands,
  simulate: async (): Promise<Register> => (await import('./simulate.js')).registerSimulateCommand,
  model: async (): Promise<Register> => (await import('./model.js')).registerModelCommands,
  serve: async (): Promise<Register> => (await import('./serve.js')).registerServeCommands,
  backtest: async (): Promise<Register> => (await import('./backtest.js')).registerBacktestCommand,
  api: async (): Promise<Register> => (await import('./api.js')).registerApiCommand,
  inspect: async (): Promise<Register> => (await import('./inspect.js')).registerInspectCommand,
}

export const COMMANDS = {
  kafka: {
    module: 'kafka',
    description: 'the bundled single-node Apache Kafka broker (KRaft) on 127.0.0.1, for tests and the demo',
  },
  simulate: {
    module: 'simulate',
    description:
      'a deterministic simulated fleet: failures with (and without) precursors, benign look-alikes, and an actuator that obeys healing commands',
  },
  inspect: {
    module: 'inspect',
    description:
      'profile a metrics history before training: sampling, metrics, missingness, failures, class balance, splits',
  },
  train: { module: 'model', description: 'train a failure-prediction model from metric CSVs' },
  score: {
    module: 'model',
    description: 'score a metric CSV with a model: host,timestamp,score,alert per feature vector',
  },
  evaluate: {
    module: 'model',
    description: 'evaluate a model on labelled metric CSVs, beside a naive static-threshold baseline',
  },
  tune: {
    module: 'model',
    description:
      "re-choose a model's page rule (threshold × vectors in a row) on labelled data — by outcome, page precision or closed-loop backtest — without retraining",
  },
  serve: {
    module: 'serve',
    description:
      'the streaming scorer: consume metrics from Kafka, score them, and send guarded healing commands, exactly once',
  },
  replay: {
    module: 'serve',
    description: 'publish a metrics CSV to Kafka as MetricSampleV1 records (key = host), rate-controlled',
  },
  'kill-switch': {
    module: 'serve',
    description: 'stop (on) or allow (off) every healing action of every scorer at once, through the state topic',
  },
  backtest: {
    module: 'backtest',
    description:
      'closed loop in one process: the simulated fleet and the streaming scorer on the in-memory bus, judged by outcomes beside the same fleet with no scorer and a naive policy',
  },
  api: {
    module: 'api',
    description:
      'the REST API alone (read side): predictions, hosts, commands, models, policy and stats from the topics; no scorer',
  },
} as const satisfies Record<string, { module: keyof typeof load; description: string }>

export type CommandName = keyof typeof COMMANDS

/** Examples shown under a command's --help (commands that print their own have none here). */
export const EXAMPLES: Partial<Record<CommandName, string[]>> = {
  kafka: ['preempt kafka up', 'preempt kafka status', 'preempt kafka down'],
  inspect: [
    'preempt inspect --data data/sample-fleet/metrics.csv.gz --failures data/sample-fleet/failures.csv --horizon 1h --out inspect/sample',
    'preempt inspect --data cmapss/train.csv --time-col cycle --entity-col unit --time-unit step --run-to-failure --horizon 30',
  ],
  train: [
    'preempt train --data data/sample-fleet/metrics.csv.gz --failures data/sample-fleet/failures.csv --horizon 1h --lead 2m --out models/sample',
    'preempt train --data cmapss/train.csv --time-col cycle --entity-col unit --time-unit step --run-to-failure --horizon 30 --out models/cmapss',
  ],
  score: [
    'preempt score --model models/sample --data data/sample-fleet/metrics.csv.gz --out scores/sample.csv',
    'preempt score --model models/sample --data new.csv --threshold 0.6 --consecutive 3   # another alert rule',
  ],
  evaluate: [
    'preempt evaluate --model models/sample --data fleet-b/metrics.csv.gz --failures fleet-b/failures.csv --out eval/b',
    'preempt evaluate --model models/a --data d.csv --failures f.csv --compare models/b   # two models, same rows',
  ],
  tune: [
    'preempt tune --model models/sample --data d.csv --failures f.csv --by precision --target-precision 0.8',
    'preempt tune --model models/fleet --data fleet/metrics.csv.gz --failures fleet/failures.csv --split val --by backtest --seed 31',
  ],
  'kill-switch': ['preempt kill-switch on    # every scorer stops acting, at once', 'preempt kill-switch off'],
}

/** The register functions of the modules that hold `names` (all commands when undefined). */
export async function registrars(names?: readonly string[]): Promise<Register[]> {
  const modules = new Set(
    Object.entries(COMMANDS)
      .filter(([n]) => !names || names.includes(n))
      .map(([, c]) => c.module),
  )
  return Promise.all([...modules].map((m) => load[m]()))
}
