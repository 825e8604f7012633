/**
 * `npm run bench -- api`: autocannon against the REST API with 100 000 hosts materialised.
 * The server (bench/api-server.ts) runs pinned to one core (taskset, when present); the load
 * generator runs here, on another. Baseline: GET /healthz of the same server in the same run
 * (what fastify itself costs on this machine).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cpus } from 'node:os'
import autocannon from 'autocannon'
import type { Bench, Figure } from './harness.js'

async function startServer(hosts: number): Promise<{ child: ChildProcess; url: string; rssMiB: number }> {
  const pin = existsSync('/usr/bin/taskset') && cpus().length > 1
  const args = ['--import', 'tsx', 'bench/api-server.ts', '--hosts', String(hosts)]
  const child = pin ? spawn('taskset', ['-c', '1', process.execPath, ...args]) : spawn(process.execPath, args)
  let out = ''
  let err = ''
  child.stderr!.on('data', (d) => {
    err += d
  })
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d
      const m = out.match(/^url=.*$/m)
      if (m) resolve(m[0])
    })
    child.once('exit', (code) => reject(new Error(`api-server exited ${code}: ${err.slice(-2000)}`)))
  })
  const [, url, rss] = line.match(/^url=(\S+) rss=(\d+)/)!
  return { child, url: url!, rssMiB: Number(rss) }
}

interface Load {
  reqPerS: number
  p50: number
  p99: number
  non2xx: number
  errors: number
}

async function load(o: autocannon.Options): Promise<Load> {
  const r = await autocannon({ connections: 32, pipelining: 1, duration: 10, ...o })
  return {
    reqPerS: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
  }
}

const bench: Bench = {
  name: 'api',
  description: 'REST API under autocannon, 100 000 hosts materialised, server on one core',
  order: 60,
  async run(ctx) {
    const hosts = Math.max(1000, Math.round(100_000 * ctx.scale))
    const { child, url, rssMiB } = await startServer(hosts)
    ctx.log(`server ${url}, ${hosts} hosts, RSS ${rssMiB} MiB`)
    try {
      const duration = Math.max(3, Math.round(10 * Math.min(1, ctx.scale)))
      const health = await load({ url: `${url}/healthz`, duration })
      ctx.log(`GET /healthz: ${Math.round(health.reqPerS)} req/s, p99 ${health.p99} ms`)
      let i = 0
      const host = await load({
        url,
        duration,
        requests: [
          {
            method: 'GET',
            setupRequest: (req) => {
              i = (i * 7919 + 1) % hosts
              return { ...req, path: `/v1/hosts/host-${String(i).padStart(6, '0')}` }
            },
          },
        ],
      })
      ctx.log(`GET /v1/hosts/:host: ${Math.round(host.reqPerS)} req/s, p99 ${host.p99} ms, non-2xx ${host.non2xx}`)
      const act = await load({ url: `${url}/v1/predictions?risk=act`, duration })
      ctx.log(
        `GET /v1/predictions?risk=act: ${Math.round(act.reqPerS)} req/s, p99 ${act.p99} ms, non-2xx ${act.non2xx}`,
      )
      // POST /v1/score: 4 h of one host at 30 s (481 samples), the model's longest window.
      const T0 = Date.UTC(2026, 10, 1)
      const samples = Array.from({ length: 481 }, (_, k) => ({
        v: 1,
        host: 'probe',
        ts: T0 + k * 30_000,
        metrics: { cpu_util: 0.4 + (k % 7) / 100, mem_used: 0.6, disk_err_rate: k > 400 ? 2 : 0, temp_c: 55 },
      }))
      const score = await load({
        url: `${url}/v1/score`,
        duration,
        connections: 4,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ samples }),
      })
      ctx.log(`POST /v1/score: ${score.reqPerS.toFixed(1)} req/s × ${samples.length} samples, p99 ${score.p99} ms`)
      if (host.non2xx || act.non2xx || score.non2xx || host.errors || act.errors || score.errors)
        throw new Error(`non-2xx or errors under load: ${JSON.stringify({ host, act, score })}`)
      const figs: Record<string, Figure> = {
        healthz_req_s: { value: health.reqPerS, unit: 'req/s', better: 'higher', note: 'fastify floor, same server' },
        host_req_s: {
          value: host.reqPerS,
          unit: 'req/s',
          better: 'higher',
          baseline: 'api.healthz_req_s',
          target: 10_000,
          note: `GET /v1/hosts/:host, ${hosts} hosts, 32 connections`,
        },
        host_p99_ms: { value: host.p99, unit: 'ms', better: 'lower', target: 20 },
        act_req_s: {
          value: act.reqPerS,
          unit: 'req/s',
          better: 'higher',
          baseline: 'api.healthz_req_s',
          target: 10_000,
          note: `GET /v1/predictions?risk=act (${Math.round(hosts / 100)} hosts at act, first page of 100)`,
        },
        act_p99_ms: { value: act.p99, unit: 'ms', better: 'lower', target: 20 },
        score_rows_s: {
          value: score.reqPerS * samples.length,
          unit: 'samples/s',
          better: 'higher',
          note: `POST /v1/score, ${samples.length} samples a call, 4 connections; p99 ${score.p99} ms`,
        },
        server_rss_mib: { value: rssMiB, unit: 'MiB', better: 'lower', note: `${hosts} hosts materialised` },
      }
      return figs
    } finally {
      child.kill('SIGTERM')
    }
  },
}
export default bench
