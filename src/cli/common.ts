import { readFileSync } from 'node:fs'
import { type Command, InvalidArgumentError } from 'commander'
import { type Config, type ConfigOverrides, loadConfig } from '../config/index.js'
import { createLogger, type Logger } from '../log.js'
import type { PolicyOverrides } from '../policy/engine.js'
import { parseDuration, type TimeUnit } from '../time.js'

/** preempt's version (package.json). */
export const PREEMPT_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version

export interface GlobalOpts {
  config?: string
  logLevel?: string
}

/** Loads the frozen config and the root logger for a command (flags > env > file > defaults). */
export function boot(
  global: GlobalOpts,
  env: NodeJS.ProcessEnv,
  overrides: ConfigOverrides = {},
  /** Commands that print a human summary log only warnings unless told otherwise. */
  opts: { quiet?: boolean } = {},
) {
  const level = global.logLevel ?? (opts.quiet && !env['PREEMPT_LOG_LEVEL'] ? 'warn' : undefined)
  const config: Readonly<Config> = loadConfig({
    file: global.config,
    env,
    overrides: { ...overrides, ...(level ? { log: { level: level as Config['log']['level'] } } : {}) },
  })
  const logger: Logger = createLogger({ level: config.log.level })
  return { config, logger }
}

/** commander parsers that name the flag and the fix. */
export const parse = {
  int(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
    return (v: string) => {
      const n = Number(v)
      if (!Number.isInteger(n) || n < min || n > max)
        throw new InvalidArgumentError(`${flag} takes a whole number from ${min} to ${max}, got "${v}".`)
      return n
    }
  },
  number(flag: string, min: number, max: number) {
    return (v: string) => {
      const n = Number(v)
      if (!Number.isFinite(n) || n < min || n > max)
        throw new InvalidArgumentError(`${flag} takes a number from ${min} to ${max}, got "${v}".`)
      return n
    }
  },
  duration(flag: string, unit: TimeUnit = 'ms') {
    return Object.assign(
      (v: string) => {
        try {
          const ms = parseDuration(v, unit)
          if (ms <= 0) throw new RangeError('must be positive')
          return ms
        } catch (err) {
          throw new InvalidArgumentError(`${flag}: ${(err as Error).message}`)
        }
      },
      { unit },
    )
  },
  time(flag: string) {
    return (v: string) => {
      const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v)
      if (!Number.isFinite(t)) throw new InvalidArgumentError(`${flag} takes an ISO-8601 time or epoch ms, got "${v}".`)
      return t
    }
  },
}

/** The policy flags `serve` and `backtest` share. */
export interface PolicyFlags {
  threshold?: number
  consecutive?: number
  maxConcurrent?: number
  maxConcurrentPct?: number
  cooldown?: number
  actWithin?: number | null
  ladderAfter?: number | null
}

export function addPolicyFlags(cmd: Command): Command {
  return cmd
    .option(
      '--threshold <p>',
      "policy: act at or above this score (default: the model's page-rule threshold)",
      parse.number('--threshold', 0, 1),
    )
    .option(
      '--consecutive <k>',
      "policy: scores in a row at or above it (default: the model's page rule)",
      parse.int('--consecutive', 1),
    )
    .option('--max-concurrent <n>', 'guard: hosts in action at once (default 10)', parse.int('--max-concurrent', 1))
    .option(
      '--max-concurrent-pct <x>',
      'guard: percent of known hosts in action at once (default 5)',
      parse.number('--max-concurrent-pct', 0.01, 100),
    )
    .option(
      '--cooldown <dur>',
      'guard: no second action on a host for this long (default 1h)',
      parse.duration('--cooldown'),
    )
    .option(
      '--act-within <dur>',
      "policy: with a model that estimates time to failure, act only when the failure is expected within this long (the action's duration plus a margin); off: never hold (default: the model's horizon)",
      (v: string) => (v === 'off' ? null : parse.duration('--act-within')(v)),
    )
    .option(
      '--ladder-after <dur>',
      'policy: this long after a restart, a host still at k scores in a row is drained (past the cooldown); off: wait out recovery (default 30m)',
      (v: string) => (v === 'off' ? null : parse.duration('--ladder-after')(v)),
    )
}

/** The configuration's policy with the flags over it. */
export function policyOf(config: Readonly<Config>, f: PolicyFlags): PolicyOverrides {
  const policy: PolicyOverrides = {
    ...config.policy,
    softwareMetrics: [...config.policy.softwareMetrics],
    guards: { ...config.policy.guards },
  }
  if (f.threshold !== undefined) policy.thresholdHigh = f.threshold
  if (f.consecutive !== undefined) policy.consecutive = f.consecutive
  if (f.maxConcurrent !== undefined) policy.guards!.maxConcurrent = f.maxConcurrent
  if (f.maxConcurrentPct !== undefined) policy.guards!.maxConcurrentFraction = f.maxConcurrentPct / 100
  if (f.cooldown !== undefined) policy.guards!.cooldownMs = f.cooldown
  if (f.actWithin !== undefined) policy.actWithinMs = f.actWithin
  if (f.ladderAfter !== undefined) policy.ladderAfterMs = f.ladderAfter
  return policy
}
