import type { Command } from 'commander'
import { createApiService } from '../api/index.js'
import { createBusFromConfig } from '../bus/index.js'
import { loadModel } from '../model/artifact.js'
import { initBackend } from '../model/backend.js'
import { streamModelOf } from '../stream/model.js'
import { COMMANDS } from './commands.js'
import { boot, type GlobalOpts, PREEMPT_VERSION, parse } from './common.js'

interface ApiFlags {
  port: number
  model?: string
  waitForTopics: number
}

export function registerApiCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('api')
    .description(COMMANDS.api.description)
    .option(
      '--port <port>',
      'port to listen on (0: any free port); interface api.host',
      parse.int('--port', 0, 65_535),
      8080,
    )
    .option('--model <dir>', 'model folder for POST /v1/score (without it, that route answers 409)')
    .option(
      '--wait-for-topics <dur>',
      'how long to wait for the scorer to create its topics',
      parse.duration('--wait-for-topics'),
      60_000,
    )
    .addHelpText(
      'after',
      `
Every instance reads the output topics in full, so any instance answers for every host: run
as many as you need behind any load balancer. Routes that need the scorer (activating a model,
guard decisions) answer 409 here; run \`preempt serve --api-port\` for those.

Examples:
  preempt api --port 8080
  PREEMPT_API_TOKEN=… preempt api --port 8080 --model models/fleet
  curl -s localhost:8080/v1/predictions?risk=act | jq .`,
    )
    .action(async (f: ApiFlags, cmd: Command) => {
      const { config, logger } = boot(cmd.optsWithGlobals<GlobalOpts>(), env)
      let model: ReturnType<typeof streamModelOf> | undefined
      if (f.model) {
        await initBackend()
        model = streamModelOf(await loadModel(f.model))
      }
      const bus = createBusFromConfig(config, logger)
      const api = await createApiService({
        bus,
        config,
        log: logger,
        version: PREEMPT_VERSION,
        model,
        modelDir: f.model,
        waitForTopicsMs: f.waitForTopics,
      })
      const stopped = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'))
        process.once('SIGTERM', () => resolve('SIGTERM'))
      })
      const url = await api.listen(f.port)
      process.stderr.write(`preempt api: ${url} (OpenAPI at ${url}/docs); reading ${config.topics.predictions} …\n`)
      try {
        await Promise.race([api.start(), stopped])
      } catch (err) {
        // Nothing to serve (the topics never appeared …): close the listener, or the process would hang.
        await api.close()
        await bus.close()
        throw err
      }
      const why = await stopped
      process.stderr.write(`preempt api: ${why}: closing\n`)
      await api.close()
      await bus.close()
    })
}
