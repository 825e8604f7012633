import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { PreemptError } from '../errors.js'
import { COMMANDS } from './commands.js'

const SCRIPT = fileURLToPath(new URL('../../scripts/kafka/kafka.sh', import.meta.url))

/** Runs scripts/kafka/kafka.sh; its output goes straight to the terminal. */
export function runKafkaScript(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { stdio: 'inherit', env })
    child.on('error', (err) =>
      reject(new PreemptError('PREEMPT_ERR_KAFKA_SCRIPT', `cannot run ${SCRIPT}: ${err.message}`, { cause: err })),
    )
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
  })
}

export function registerKafkaCommands(program: Command, env: NodeJS.ProcessEnv): void {
  const kafka = program.command('kafka').description(COMMANDS.kafka.description)
  const run = async (args: string[]) => {
    const code = await runKafkaScript(args, env)
    if (code !== 0) process.exitCode = code
  }
  kafka
    .command('up')
    .description('provision (mvn, cached) and start the broker; wait until it accepts a topic')
    .option('--watch-pid <pid>', 'stop the broker when this process exits')
    .action((opts: { watchPid?: string }) => run(['up', ...(opts.watchPid ? ['--watch-pid', opts.watchPid] : [])]))
  kafka
    .command('down')
    .description('stop the broker (SIGTERM, then SIGKILL after 30 s)')
    .action(() => run(['down']))
  kafka
    .command('status')
    .description('say whether the broker runs, and where')
    .action(() => run(['status']))
}
