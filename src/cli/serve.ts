import { type Command, InvalidArgumentError, Option } from 'commander'
import { type ApiService, createApiService } from '../api/index.js'
import { createBusFromConfig } from '../bus/index.js'
import { loadModel } from '../model/artifact.js'
import { initBackend } from '../model/backend.js'
import { replayCsv } from '../pipelines/replay.js'
import { setKillSwitch } from '../stream/control.js'
import { streamModelOf } from '../stream/model.js'
import { createScorer } from '../stream/scorer.js'
import { COMMANDS } from './commands.js'
import { addPolicyFlags, boot, type GlobalOpts, type PolicyFlags, PREEMPT_VERSION, parse, policyOf } from './common.js'
import { addDataFlags, csvOptions, type DataFlags } from './data-flags.js'

interface ServeFlags extends PolicyFlags {
  model: string
  group: string
  fromBeginning?: boolean
  dryRun?: boolean
  killSwitch?: boolean
  partitions: number
  commandTtl?: number
  idleExit?: number
  closeDeadline: number
  progress: boolean
  apiPort?: number
}

/** Resolves when the process is asked to stop (SIGINT, SIGTERM). */
function stopSignal() {
  return new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
}

/**
 * Resolves once `idleMs` passed with no new input. Started after the scorer joined its group,
 * so a member with nothing left to do (all committed before it started) stops too.
 */
function idleSignal(idleMs: number, records: () => number) {
  return new Promise<string>((resolve) => {
    let last = records()
    let since = Date.now()
    const t = setInterval(() => {
      const n = records()
      if (n !== last) {
        last = n
        since = Date.now()
      } else if (Date.now() - since >= idleMs) {
        clearInterval(t)
        resolve('idle')
      }
    }, 200)
    t.unref()
  })
}

export function registerServeCommands(program: Command, env: NodeJS.ProcessEnv): void {
  addPolicyFlags(program.command('serve'))
    .description(COMMANDS.serve.description)
    .requiredOption('--model <dir>', 'model folder written by preempt train')
    .option('--group <id>', 'consumer group (instances with the same group share the partitions)', 'preempt-scorer')
    .option('--from-beginning', 'a partition with no committed offset starts at its beginning (default: the end)')
    .option('--dry-run', 'send commands marked dry_run: actuators report, nothing is done ("monitor" mode)')
    .option('--kill-switch', 'start with every action stopped')
    .option('--partitions <n>', 'partitions of the topics serve creates', parse.int('--partitions', 1, 10_000), 6)
    .option('--command-ttl <dur>', 'a command is void after this long (default 10m)', parse.duration('--command-ttl'))
    .option(
      '--idle-exit <dur>',
      'stop once no input arrived for this long (tests, backfills)',
      parse.duration('--idle-exit'),
    )
    .option('--close-deadline <dur>', 'on SIGTERM, close within this long', parse.duration('--close-deadline'), 30_000)
    .option('--no-progress', 'no periodic progress line')
    .option(
      '--api-port <port>',
      'also serve the REST API on this port (0: any free port); interface api.host',
      parse.int('--api-port', 0, 65_535),
    )
    .addHelpText(
      'after',
      `
Examples:
  preempt serve --model models/fleet --dry-run            # the first week: monitor, act on nothing
  PREEMPT_API_TOKEN=… preempt serve --model models/fleet --api-port 8080   # with the REST API (/docs)
  KAFKA_BROKERS=kafka-1:9092 preempt serve --model models/fleet --max-concurrent 5
  preempt kill-switch on                                  # stop every action at once`,
    )
    .action(async (f: ServeFlags, cmd: Command) => {
      const { config, logger } = boot(cmd.optsWithGlobals<GlobalOpts>(), env)
      const backend = await initBackend()
      const loaded = await loadModel(f.model)
      const model = streamModelOf(loaded)
      const policy = policyOf(config, f)
      if (f.dryRun) policy.dryRun = true
      if (f.killSwitch) policy.killSwitch = true
      if (f.commandTtl !== undefined) policy.commandTtlMs = f.commandTtl
      const bus = createBusFromConfig(config, logger)
      let api: ApiService | undefined
      const scorer = createScorer({
        bus,
        model,
        log: logger,
        onCommitted: (info) => api?.metrics.observeBatch(info.ms / 1000),
        config: {
          topics: config.topics,
          groupId: f.group,
          fromBeginning: Boolean(f.fromBeginning),
          partitions: f.partitions,
          policy,
          explainTop: config.serve.explainTop,
          explainEvery: config.serve.explainEvery,
        },
      })
      process.stderr.write(
        `preempt serve: model ${model.name}@${model.version} (${backend.name}), rule ${model.rule.consecutive} in a row ≥ ${(policy.thresholdHigh ?? model.rule.threshold).toFixed(3)}, ${f.dryRun ? 'DRY RUN' : 'live'}${f.killSwitch ? ', kill switch ON' : ''}\n`,
      )
      const signalled = stopSignal()
      await scorer.start()
      if (f.apiPort !== undefined) {
        api = await createApiService({
          bus,
          config,
          log: logger,
          version: PREEMPT_VERSION,
          scorer,
          scorerGroup: f.group,
          modelDir: f.model,
        })
        await api.start()
        const url = await api.listen(f.apiPort)
        process.stderr.write(`preempt serve: REST API on ${url} (OpenAPI at ${url}/docs)\n`)
      }
      const stopped = f.idleExit
        ? Promise.race([
            signalled,
            idleSignal(f.idleExit, () => scorer.stats().records + scorer.stats().restoredRecords),
          ])
        : signalled
      const progress = f.progress
        ? setInterval(() => {
            const s = scorer.stats()
            const p = scorer.policy.counters
            const dlq = Object.values(s.deadLetters).reduce((a, b) => a + b, 0)
            const blocked = Object.values(p.blocked).reduce((a, b) => a + b, 0)
            process.stderr.write(
              `serve: ${s.records} records, ${s.predictions} predictions, commands ${JSON.stringify(s.commands)}, blocked ${blocked}, dlq ${dlq}, partitions [${s.assigned.join(',')}]\n`,
            )
          }, 10_000)
        : undefined
      progress?.unref()
      const why = await stopped
      if (progress) clearInterval(progress)
      process.stderr.write(`preempt serve: ${why}: finishing the batch in hand and closing\n`)
      await api?.close()
      await scorer.close(f.closeDeadline)
      await bus.close()
      const s = scorer.stats()
      process.stderr.write(
        `preempt serve: ${s.records} records, ${s.predictions} predictions, commands ${JSON.stringify(s.commands)}, dead letters ${JSON.stringify(s.deadLetters)}\n`,
      )
    })

  addDataFlags(program.command('replay').description(COMMANDS.replay.description))
    .option(
      '--partitions <n>',
      'partitions of the metrics topic when replay creates it',
      parse.int('--partitions', 1, 10_000),
      6,
    )
    .option('--rate <n>', 'samples per second at most (default: as fast as possible)', parse.number('--rate', 1, 1e9))
    .addOption(
      new Option('--speed <x>', 'event time per real time (900 = 15 min a second), or "max"').argParser((v) =>
        v === 'max' ? Number.POSITIVE_INFINITY : parse.number('--speed', 0.001, 1e9)(v),
      ),
    )
    .option('--no-progress', 'no progress output')
    .addHelpText(
      'after',
      `
Examples:
  preempt replay --data data/sample-fleet/metrics.csv.gz --host-labels data/sample-fleet/hosts.csv
  preempt replay --data fleet/metrics.csv.gz --failures fleet/failures.csv --speed 900`,
    )
    .action(
      async (f: DataFlags & { partitions: number; rate?: number; speed?: number; progress: boolean }, cmd: Command) => {
        const { config, logger } = boot(cmd.optsWithGlobals<GlobalOpts>(), env, {}, { quiet: true })
        const bus = createBusFromConfig(config, logger)
        const ac = new AbortController()
        const stop = () => ac.abort()
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        let lastSaid = 0
        try {
          const r = await replayCsv({
            bus,
            csv: csvOptions(f),
            topics: config.topics,
            partitions: f.partitions,
            rate: f.rate,
            speed: f.speed,
            failuresFile: f.failures,
            hostsFile: f.hostLabels,
            signal: ac.signal,
            onProgress: (n) => {
              if (f.progress && Date.now() - lastSaid > 5000) {
                lastSaid = Date.now()
                process.stderr.write(`replay: ${n.toLocaleString('en-US')} samples\n`)
              }
            },
          })
          process.stderr.write(
            `replayed ${r.rows.toLocaleString('en-US')} samples and ${r.failures} failures to ${config.topics.metrics} in ${r.seconds.toFixed(1)} s (${Math.round(r.rows / Math.max(r.seconds, 1e-3)).toLocaleString('en-US')} samples/s)${r.backwards ? `; ${r.backwards} rows were earlier than the row before (the file is not in time order)` : ''}\n`,
          )
        } finally {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          await bus.close()
        }
      },
    )

  program
    .command('kill-switch')
    .description(COMMANDS['kill-switch'].description)
    .argument('<state>', 'on or off')
    .action(async (state: string, _o: unknown, cmd: Command) => {
      if (state !== 'on' && state !== 'off') throw new InvalidArgumentError('kill-switch takes "on" or "off".')
      const { config, logger } = boot(cmd.optsWithGlobals<GlobalOpts>(), env, {}, { quiet: true })
      const bus = createBusFromConfig(config, logger)
      try {
        await setKillSwitch(bus, config.topics.state, state === 'on')
      } finally {
        await bus.close()
      }
      process.stderr.write(`kill switch ${state}: written to ${config.topics.state}\n`)
    })
}
