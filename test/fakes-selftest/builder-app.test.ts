// The builder application's stand-in (test/fakes/host-bin/github-runner-image-builder.stub)
// against the app's own `--help` texts (test/fakes/builder-app-help/, recorded from the click
// source of app/ at fb250b2): every option the help lists is accepted, with each of its choices;
// anything else is a click usage error (exit 2, `Error:` on stderr); required options and
// arguments are required. Then what it does: init's key and downloads, run's exact success output.
// init and run write the key to the hard-coded /home/ubuntu/.ssh, so they run here as the charm
// runs them: as root, in a private mount namespace with a tmpfs on /home.
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runProcess } from '../support/juju.js';
import { cleanupUnits, testUnit, type TestUnit } from './helpers.js';

afterAll(cleanupUnits);

const HELP_DIR = path.join(import.meta.dirname, '../fakes/builder-app-help');
const COMMANDS = ['init', 'run', 'latest-build-id'] as const;
type Command = (typeof COMMANDS)[number];

interface HelpOption {
  /** Every spelling (`-b`, `--base-image`). */
  readonly names: string[];
  /** TEXT, INTEGER, a choice list, or undefined for a flag. */
  readonly metavar: string | undefined;
  readonly choices: string[] | undefined;
  readonly required: boolean;
}
interface Help {
  readonly text: string;
  readonly usage: string;
  readonly args: string[];
  readonly options: HelpOption[];
}

/** Reads a click help text: the usage line's arguments and the Options section. */
function readHelp(name: Command | 'group'): Help {
  const text = readFileSync(path.join(HELP_DIR, `${name}.txt`), 'utf8');
  const usage = text.split('\n')[0]!;
  const args = usage.split(' [OPTIONS]')[1]!.trim().split(/\s+/).filter((a) => /^[A-Z_]+$/.test(a));
  const section = text.split('\nOptions:\n')[1]!.split('\n\n')[0]!;
  // An option starts a line with two spaces and a dash; its description may run over lines.
  const entries = section.split(/\n(?= {2}-)/).map((e) => e.replace(/\s+/g, ' ').trim());
  const options = entries
    .filter((e) => !e.startsWith('--help'))
    .map((e) => {
      const m = /^((?:-{1,2}[a-z-]+(?:, )?)+)(?: (\[[^\]]+\]|[A-Z]+)(?= |$))?/.exec(e)!;
      const metavar = m[2];
      return {
        names: m[1]!.split(', ').map((n) => n.trim()),
        metavar,
        choices: metavar?.startsWith('[') ? metavar.slice(1, -1).split('|') : undefined,
        required: e.endsWith('[required]'),
      };
    });
  return { text, usage, args, options };
}

const group = readHelp('group');
const helps = Object.fromEntries(COMMANDS.map((c) => [c, readHelp(c)])) as Record<Command, Help>;

/** A value the option takes: its first choice, a number, or text. */
const validValue = (o: HelpOption) => o.choices?.[0] ?? (o.metavar === 'INTEGER' ? '3' : o.names.includes('--script-url') ? 'https://example.test/s.sh' : 'v');

/** The arguments a command needs besides the option under test: its argument and its other required options. */
function needed(cmd: Command, except?: HelpOption): string[] {
  const out = helps[cmd].args.map(() => 'noble-app-x64');
  for (const o of helps[cmd].options) if (o.required && o !== except) out.push(o.names.at(-1)!, validValue(o));
  return out;
}

let unit: TestUnit | undefined;
const u = () => (unit ??= testUnit());
const cloudOpt = () => group.options.find((o) => o.names.includes('--os-cloud'))!;

/**
 * Runs the stand-in as the build script does: as root in a private mount namespace where /home
 * is a tmpfs and /home/ubuntu/.ssh is `sshDir`, with cwd `workDir`.
 */
function app(argv: string[], env: Record<string, string> = {}, dirs = scratch()) {
  const stub = path.join(import.meta.dirname, '../fakes/host-bin/github-runner-image-builder.stub');
  const setup = 'mount -t tmpfs -o mode=0755 tmpfs /home && mkdir -p /home/ubuntu/.ssh && mount --bind "$1" /home/ubuntu/.ssh && cd "$2" && shift 2 && exec "$@"';
  return runProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', setup, 'sh', dirs.ssh, dirs.work, stub, ...argv], {
    env: { PATH: '/usr/bin:/bin', FAKE_HOST_DIR: u().hostDir, CHARM_HOST_ROOT: u().hostRoot, ...env },
    timeoutMs: 30_000,
  });
}
let n = 0;
function scratch() {
  const base = path.join(u().dir, `app-${n++}`);
  const dirs = { ssh: path.join(base, 'ssh'), work: path.join(base, 'work') };
  mkdirSync(dirs.ssh, { recursive: true, mode: 0o700 });
  mkdirSync(dirs.work, { recursive: true, mode: 0o700 });
  return dirs;
}
const usageError = (res: { code: number | null; stderr: string }, error: string | RegExp) => {
  expect(res.code).toBe(2);
  expect(res.stderr).toMatch(typeof error === 'string' ? new RegExp(`Error: ${error.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n?$`) : error);
};

describe('the stand-in speaks the app CLI of its help texts', () => {
  it('prints the recorded help texts', async () => {
    expect((await app(['--help'])).stdout).toBe(group.text);
    for (const cmd of COMMANDS) expect((await app(['--os-cloud', 'c', cmd, '--help'])).stdout).toBe(helps[cmd].text);
    // No arguments: click shows the group's help and exits 2.
    expect(await app([])).toMatchObject({ code: 2, stderr: group.text });
  });

  it('takes the group options before the command, and requires --os-cloud', async () => {
    expect(group.options.map((o) => o.names)).toEqual([['--log-level'], ['--os-cloud']]);
    expect(cloudOpt().required).toBe(true);
    for (const level of group.options[0]!.choices!) expect((await app(['--log-level', level, '--os-cloud', 'c', 'latest-build-id', 'x'])).code).toBe(0);
    usageError(await app(['--log-level', 'trace', '--os-cloud', 'c', 'latest-build-id', 'x']), `Invalid value for '--log-level': 'trace' is not one of ${group.options[0]!.choices!.map((c) => `'${c}'`).join(', ')}.`);
    usageError(await app(['latest-build-id', 'x']), "Missing option '--os-cloud'.");
    // After the command it is not the command's option.
    usageError(await app(['--os-cloud', 'c', 'latest-build-id', 'x', '--os-cloud', 'c']), "No such option '--os-cloud'.");
    usageError(await app(['--os-cloud', 'c']), 'Missing command.');
    usageError(await app(['--os-cloud', 'c', 'build']), "No such command 'build'.");
    usageError(await app(['--os-cloud']), /^Error: Option '--os-cloud' requires an argument.\n$/);
  });

  for (const cmd of COMMANDS) {
    describe(cmd, () => {
      it('accepts every option of its help, in each spelling and with each choice', async () => {
        for (const o of helps[cmd].options) {
          for (const name of o.names) {
            for (const value of o.choices ?? [validValue(o)]) {
              const argv = ['--os-cloud', 'c', cmd, ...needed(cmd, o), name, ...(o.metavar ? [value] : [])];
              const res = await app(argv);
              expect(res.code, `${argv.join(' ')}: ${res.stderr}`).toBe(0);
            }
          }
          if (o.metavar) {
            // --opt=value, and -bVALUE for a short spelling.
            const long = o.names.at(-1)!;
            expect((await app(['--os-cloud', 'c', cmd, ...needed(cmd, o), `${long}=${validValue(o)}`])).code).toBe(0);
            const short = o.names.find((x) => /^-[a-z]$/.test(x));
            if (short) expect((await app(['--os-cloud', 'c', cmd, ...needed(cmd, o), `${short}${validValue(o)}`])).code).toBe(0);
          }
        }
      });

      it('refuses options its help does not list', async () => {
        const listed = new Set(helps[cmd].options.flatMap((o) => o.names));
        const others = [...new Set([...Object.values(helps).flatMap((h) => h.options.flatMap((o) => o.names)), '--callback-script', '--os-cloud', '--log-level', '-x', '--flavour'])].filter((x) => !listed.has(x));
        for (const name of others) usageError(await app(['--os-cloud', 'c', cmd, ...needed(cmd), name, 'v']), `No such option '${name}'.`);
      });

      it('requires its required options and arguments, and refuses extra arguments', async () => {
        for (const o of helps[cmd].options.filter((x) => x.required)) {
          const res = await app(['--os-cloud', 'c', cmd, ...needed(cmd, o)]);
          usageError(res, new RegExp(`Error: Missing option '${o.names.at(-1)}'\\.`));
          expect(res.stderr.startsWith(`${helps[cmd].usage}\nTry 'github-runner-image-builder ${cmd} --help' for help.\n`)).toBe(true);
          for (const c of o.choices ?? []) expect(res.stderr).toContain(`\t${c}`);
        }
        for (const a of helps[cmd].args) {
          const rest = needed(cmd).slice(helps[cmd].args.length);
          usageError(await app(['--os-cloud', 'c', cmd, ...rest]), `Missing argument '${a}'.`);
        }
        usageError(await app(['--os-cloud', 'c', cmd, ...needed(cmd), 'extra']), 'Got unexpected extra argument (extra)');
      });

      it('checks choices as click does', async () => {
        for (const o of helps[cmd].options.filter((x) => x.choices)) {
          const long = o.names.at(-1)!;
          const spelled = o.names.length > 1 ? o.names.map((x) => `'${x}'`).join(' / ') : `'${long}'`;
          usageError(await app(['--os-cloud', 'c', cmd, ...needed(cmd, o), long, 'amd64']), `Invalid value for ${spelled}: 'amd64' is not one of ${o.choices!.map((c) => `'${c}'`).join(', ')}.`);
          // --arch is case-insensitive (case_sensitive=False); --base-image is not.
          const upper = o.choices![0]!.toUpperCase();
          const res = await app(['--os-cloud', 'c', cmd, ...needed(cmd, o), long, upper]);
          expect(res.code).toBe(long === '--arch' || upper === o.choices![0] ? 0 : 2);
        }
      });
    });
  }

  it('checks values as the app does: integers, URLs, flags without values', async () => {
    const run = ['--os-cloud', 'c', 'run', 'img', '--arch', 'x64'];
    usageError(await app([...run, '-k', 'three']), "Invalid value for '-k' / '--keep-revisions': 'three' is not a valid integer.");
    usageError(await app([...run, '--script-url', 'example.test/s.sh']), "Invalid value for '--script-url': URL must be '<scheme>://<hostname>' format");
    expect((await app([...run, '--script-url', ''])).code).toBe(0);
    usageError(await app(['--os-cloud', 'c', 'latest-build-id', 'x', '--any-status=yes']), /^Error: Option '--any-status' does not take a value.\n$/);
    usageError(await app([...run, '--flavor']), /^Error: Option '--flavor' requires an argument.\n$/);
    // `--` ends the options: what follows is an argument.
    usageError(await app(['--os-cloud', 'c', 'run', '--', '--arch', 'x64']), /Missing option '--arch'/);
  });
});

describe('what the stand-in does', () => {
  it('init downloads the base images into its working directory and writes its key as the app does', async () => {
    const dirs = scratch();
    const res = await app(['--os-cloud', 'c', 'init', '--arch', 'arm64', '--prefix', 'app'], {}, dirs);
    expect(res).toMatchObject({ code: 0, stdout: '' });
    expect(readdirSync(dirs.work).sort()).toEqual(['focal', 'jammy', 'noble', 'resolute'].map((b) => `${b}-server-cloudimg-arm64.img`));
    const key = statSync(path.join(dirs.ssh, 'builder_key'));
    // The simulated host's ubuntu user (1000:1000 unless passwd says otherwise), mode 0400.
    expect([key.uid, key.gid, key.mode & 0o777]).toEqual([1000, 1000, 0o400]);
    expect(u().builderKeys().at(-1)).toEqual({ by: 'init', path: '/home/ubuntu/.ssh/builder_key', uid: 1000, gid: 1000, mode: '0400' });
    // The keypair exists and the key is there: a second init keeps it.
    const before = u().builderKeys().length;
    expect((await app(['--os-cloud', 'c', 'init', '--arch', 'arm64', '--prefix', 'app'], {}, dirs)).code).toBe(0);
    expect(u().builderKeys()).toHaveLength(before);
  });

  it('init fails like the app when /home/ubuntu/.ssh is missing or there is no ubuntu user', async () => {
    const stub = path.join(import.meta.dirname, '../fakes/host-bin/github-runner-image-builder.stub');
    const dirs = scratch();
    const noSsh = await runProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /home && cd "$0" && exec "$@"', dirs.work, stub, '--os-cloud', 'c', 'init', '--arch', 'x64', '--prefix', 'nossh'], {
      env: { PATH: '/usr/bin:/bin', FAKE_HOST_DIR: u().hostDir },
      timeoutMs: 30_000,
    });
    expect(noSsh.code).toBe(1);
    expect(noSsh.stderr).toMatch(/^Traceback[\s\S]*FileNotFoundError: \[Errno 2\] No such file or directory: '\/home\/ubuntu\/\.ssh\/builder_key'\n$/);
    const other = testUnit();
    other.setHostKnob('passwd', 'root:x:0:0:root:/root:/bin/bash\n');
    const d2 = { ssh: path.join(other.dir, 'ssh'), work: path.join(other.dir, 'work') };
    mkdirSync(d2.ssh, { mode: 0o700 });
    mkdirSync(d2.work, { mode: 0o700 });
    const setup = 'mount -t tmpfs tmpfs /home && mkdir -p /home/ubuntu/.ssh && mount --bind "$1" /home/ubuntu/.ssh && cd "$2" && shift 2 && exec "$@"';
    const noUser = await runProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', setup, 'sh', d2.ssh, d2.work, stub, '--os-cloud', 'c', 'init', '--arch', 'x64'], {
      env: { PATH: '/usr/bin:/bin', FAKE_HOST_DIR: other.hostDir },
      timeoutMs: 30_000,
    });
    expect(noUser.code).toBe(1);
    expect(noUser.stderr).toMatch(/LookupError: no such user: 'ubuntu'\n$/);
  });

  it('run prints exactly the success output, one id per upload cloud, and takes the script secrets from its environment', async () => {
    u().setHostKnob('next-image-id', 'img-7');
    const dirs = scratch();
    const argv = ['--os-cloud', 'build', 'run', 'noble-app-x64', '--arch', 'x64', '-b', '24.04', '-k', '4', '--prefix', 'app', '--flavor', 'f1', '--network', 'n1', '--runner-version', '2.317.0', '--proxy', 'proxy.test:3128', '--script-url', 'https://example.test/s.sh'];
    const res = await app(argv, { IMAGE_BUILDER_SECRET_api_key: 'k-value', IMAGE_BUILDER_SECRET_TOKEN: 't-value', OTHER: 'x' }, dirs);
    expect(res).toMatchObject({ code: 0, stdout: 'Image build success:\nimg-7' });
    expect(u().builds().at(-1)).toEqual({
      cloud: 'build', image: 'noble-app-x64', arch: 'x64', base: '24.04', keepRevisions: 4, prefix: 'app', flavor: 'f1', network: 'n1', runnerVersion: '2.317.0',
      proxy: 'proxy.test:3128', scriptUrl: 'https://example.test/s.sh', uploadClouds: '', secrets: ['IMAGE_BUILDER_SECRET_TOKEN', 'IMAGE_BUILDER_SECRET_api_key'], id: 'img-7', ids: ['img-7'], cwd: dirs.work,
    });
    // The values reach only a root-only file (as the app passes them to the script over SSH).
    const secrets = path.join(u().hostDir, 'app-secrets.env');
    expect(statSync(secrets).mode & 0o777).toBe(0o600);
    expect(readFileSync(secrets, 'utf8')).toBe('IMAGE_BUILDER_SECRET_TOKEN=t-value\nIMAGE_BUILDER_SECRET_api_key=k-value\n');
    expect(JSON.stringify(u().builds())).not.toContain('k-value');
    // No key yet in this .ssh: run makes one, as the app does when the keypair does not match.
    expect(u().builderKeys().at(-1)).toMatchObject({ by: 'run' });
    const multi = await app(['--os-cloud', 'build', 'run', 'img', '--arch', 'x64', '--prefix', 'app', '--upload-clouds', 'a, b,c'], {}, dirs);
    expect(multi.stdout).toBe('Image build success:\nimg-7,img-7-2,img-7-3');
    expect(await app(['--os-cloud', 'build', 'latest-build-id', 'img'])).toMatchObject({ code: 0, stdout: 'img-7' });
  });

  it('obeys injected failures after the usage checks', async () => {
    u().failHost('github-runner-image-builder.run', 1, 'Traceback (most recent call last):\nopenstack.exceptions.ResourceNotFound\n');
    const bad = await app(['--os-cloud', 'c', 'run', 'img']);
    expect(bad.code).toBe(2);
    const res = await app(['--os-cloud', 'c', 'run', 'img', '--arch', 'x64']);
    expect(res).toMatchObject({ code: 1, stdout: '', stderr: 'Traceback (most recent call last):\nopenstack.exceptions.ResourceNotFound\n' });
    u().clearFailures();
  });
});
