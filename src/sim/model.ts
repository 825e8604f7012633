/**
 * The simulated fleet's vocabulary: metrics, services, failure modes and their defaults.
 * Pure data; the engine (engine.ts) gives it life.
 */
import type { FailureKind } from '../contracts/index.js'

/** The 16 metrics every sample carries (some may be null: a missing reading). */
export const SIM_METRICS = [
  'cpu_util',
  'mem_used',
  'swap_used',
  'gc_pause_ms',
  'load1',
  'disk_io_wait',
  'disk_latency_ms',
  'disk_err_rate',
  'ecc_corrected',
  'temp_c',
  'fan_rpm',
  'net_retrans',
  'nic_link_flaps',
  'req_latency_p99_ms',
  'error_rate_5xx',
  'fd_used',
] as const
export type SimMetric = (typeof SIM_METRICS)[number]
export const M = Object.fromEntries(SIM_METRICS.map((m, i) => [m, i])) as Record<SimMetric, number>

/** Decimal places written to CSV per metric (keeps files small and output byte-stable). */
export const METRIC_DECIMALS: Record<SimMetric, number> = {
  cpu_util: 4,
  mem_used: 4,
  swap_used: 4,
  gc_pause_ms: 2,
  load1: 3,
  disk_io_wait: 4,
  disk_latency_ms: 3,
  disk_err_rate: 3,
  ecc_corrected: 0,
  temp_c: 2,
  fan_rpm: 0,
  net_retrans: 5,
  nic_link_flaps: 0,
  req_latency_p99_ms: 2,
  error_rate_5xx: 5,
  fd_used: 4,
}

export interface ServiceProfile {
  name: string
  /** Share of the fleet. */
  weight: number
  cpu: number
  /** Diurnal amplitude of load. */
  diurnal: number
  /** Hour of day (UTC) of peak load. */
  peakHour: number
  mem: number
  gcMs: number
  diskLatencyMs: number
  latencyMs: number
  errRate: number
}

export const SERVICES: readonly ServiceProfile[] = [
  {
    name: 'web',
    weight: 0.35,
    cpu: 0.42,
    diurnal: 0.22,
    peakHour: 15,
    mem: 0.52,
    gcMs: 12,
    diskLatencyMs: 2.5,
    latencyMs: 85,
    errRate: 0.002,
  },
  {
    name: 'api',
    weight: 0.25,
    cpu: 0.48,
    diurnal: 0.18,
    peakHour: 14,
    mem: 0.6,
    gcMs: 18,
    diskLatencyMs: 3,
    latencyMs: 140,
    errRate: 0.003,
  },
  {
    name: 'db',
    weight: 0.15,
    cpu: 0.36,
    diurnal: 0.1,
    peakHour: 13,
    mem: 0.74,
    gcMs: 6,
    diskLatencyMs: 6,
    latencyMs: 22,
    errRate: 0.0005,
  },
  {
    name: 'cache',
    weight: 0.12,
    cpu: 0.22,
    diurnal: 0.1,
    peakHour: 15,
    mem: 0.7,
    gcMs: 4,
    diskLatencyMs: 1.5,
    latencyMs: 4,
    errRate: 0.0002,
  },
  {
    name: 'batch',
    weight: 0.13,
    cpu: 0.55,
    diurnal: 0.25,
    peakHour: 3,
    mem: 0.5,
    gcMs: 25,
    diskLatencyMs: 5,
    latencyMs: 900,
    errRate: 0.001,
  },
]

export const ZONES = ['eu-1a', 'eu-1b', 'eu-1c'] as const

/** Failure modes. Predictable ones have a precursor signature; the others strike unannounced. */
export const FailureModes = {
  memory_leak: { kind: 'memory', predictable: true, software: true, weight: 0.26 },
  disk_degradation: { kind: 'disk', predictable: true, software: false, weight: 0.22 },
  fan_failure: { kind: 'thermal', predictable: true, software: false, weight: 0.16 },
  ecc_errors: { kind: 'crash', predictable: true, software: false, weight: 0.2 },
  nic_flapping: { kind: 'network', predictable: true, software: false, weight: 0.16 },
  power_loss: { kind: 'other', predictable: false, software: false, weight: 0.5 },
  kernel_panic: { kind: 'crash', predictable: false, software: true, weight: 0.5 },
} as const satisfies Record<string, { kind: FailureKind; predictable: boolean; software: boolean; weight: number }>
export type FailureMode = keyof typeof FailureModes
export const PREDICTABLE_MODES = (Object.keys(FailureModes) as FailureMode[]).filter((m) => FailureModes[m].predictable)
export const SUDDEN_MODES = (Object.keys(FailureModes) as FailureMode[]).filter((m) => !FailureModes[m].predictable)

/** Benign anomalies that a naive detector mistakes for trouble. */
export const TrapKinds = [
  'deploy', // a service restarts host by host: cpu, errors and latency spike, memory resets then warms up
  'bad_deploy', // a whole service throws 5xx for a while: one shared cause, not many host failures
  'traffic_spike', // a service's load rises for an hour
  'batch_job', // one host: cpu, disk io and temperature up for an hour or two
  'cache_warmup', // one host: memory climbs like a leak, then plateaus
  'ecc_burst', // one host: corrected memory errors for a few minutes, then nothing
  'switch_maintenance', // a rack's NICs flap for a few minutes
] as const
export type TrapKind = (typeof TrapKinds)[number]

export interface SimParams {
  /** Hosts in the fleet. Default 200. */
  hosts: number
  /** Simulated span, ms. Default 7 days. */
  durationMs: number
  /** Simulated start, epoch ms. Default 2026-11-01T00:00:00Z. */
  startMs: number
  /** Seconds between samples of one host, ms. Default 10 s. */
  intervalMs: number
  seed: number
  /** 0 (easy) … 1 (hard). Default 0.5. Scales precursor strength, noise, traps, sudden failures. */
  difficulty: number
  /**
   * Mean time between failures of one host, ms. Default 10 days: far more often than real
   * servers, so that a week of a 200-host fleet holds the ~140 failures a model needs to learn from.
   */
  mtbfMs: number
  /** Shortest and longest precursor, ms. Defaults 45 min and 6 h. */
  precursorMinMs: number
  precursorMaxMs: number
  /** Sample timestamp jitter (±), ms. Default 1 s. */
  jitterMs: number
  /** Chance a metric reading is missing. Default 0.004. */
  missingRate: number
  /** Chance a sample is delivered after the host's next one. Default 0.002. */
  outOfOrderRate: number
  /** Mean reporting gaps per host per day. Default 0.5 (1–8 min each). */
  gapsPerDay: number
}

export const DEFAULT_SIM_PARAMS: SimParams = {
  hosts: 200,
  durationMs: 7 * 86_400_000,
  startMs: Date.UTC(2026, 10, 1),
  intervalMs: 10_000,
  seed: 1,
  difficulty: 0.5,
  mtbfMs: 10 * 86_400_000,
  precursorMinMs: 45 * 60_000,
  precursorMaxMs: 6 * 3_600_000,
  jitterMs: 1000,
  missingRate: 0.004,
  outOfOrderRate: 0.002,
  gapsPerDay: 0.5,
}

/** Actuator timings (simulated ms). */
export interface ActuatorParams {
  /** Command receipt to accepted status. Default 1–3 s. */
  ackDelayMs: [number, number]
  /** Accepted to drained. Default 30–120 s. */
  drainDelayMs: [number, number]
  /** A restart takes the host away this long. Default 60–180 s. */
  restartMs: [number, number]
  /** A drain with no failure is undone by an operator after this long. Default 4 h. */
  maxDrainMs: number
  /** Chance an action fails (drain blocked, restart hangs). Default 0.02. */
  actionFailRate: number
  /** An action is 'necessary' when the host fails within this window after it. Default 6 h. */
  necessaryWindowMs: number
  /** Without a command, a failure is noticed after this much silence. Default 2 min. */
  detectSilenceMs: number
  /** A person diagnoses an unannounced failure in this range. Default 10–40 min. */
  manualDiagnoseMs: [number, number]
}

export const DEFAULT_ACTUATOR_PARAMS: ActuatorParams = {
  ackDelayMs: [1000, 3000],
  drainDelayMs: [30_000, 120_000],
  restartMs: [60_000, 180_000],
  maxDrainMs: 4 * 3_600_000,
  actionFailRate: 0.02,
  necessaryWindowMs: 6 * 3_600_000,
  detectSilenceMs: 120_000,
  manualDiagnoseMs: [600_000, 2_400_000],
}
