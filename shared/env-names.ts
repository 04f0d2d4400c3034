/**
 * Environment variable names a manifest may not set, with the reason the API gives.
 *
 * The target starts services and build commands with `bash -p -c` under `env -i` and an
 * explicit environment, reading the env file as data (scripts/target/lib/common.sh), so no value
 * is ever run as code. These names are refused anyway, because they are read as code or as
 * paths to code by bash, sh, the dynamic loader, glibc or a language runtime that the service's
 * own child processes may be, and `-p` only protects the first shell. The target refuses the
 * same list (`denied_env_name` in common.sh); test/security/env-names.test.ts keeps the two equal.
 */

/** Exact names, each with why it is refused. */
export const DENIED_ENV: Readonly<Record<string, string>> = {
  BASH_ENV: 'bash runs the file it names at start-up',
  ENV: 'sh and bash in POSIX mode run the file it names at start-up',
  SHELLOPTS: 'it turns on bash options (xtrace, …) at start-up',
  BASHOPTS: 'it turns on bash shopt options at start-up',
  POSIXLY_CORRECT: 'it changes how bash parses and runs commands',
  BASH_COMPAT: 'it changes how bash parses and runs commands',
  BASH_XTRACEFD: 'it redirects bash trace output to a file descriptor',
  BASH_LOADABLES_PATH: 'bash loads builtins from the directories it names',
  IFS: 'it changes how the shell splits words',
  CDPATH: 'it changes where the shell cd goes',
  GLOBIGNORE: 'it changes how the shell expands file names',
  EXECIGNORE: 'it changes which programs the shell runs',
  PS0: 'bash expands it as code',
  PS1: 'bash expands it as code',
  PS2: 'bash expands it as code',
  PS3: 'bash expands it as code',
  PS4: 'bash expands it as code when tracing',
  PROMPT_COMMAND: 'bash runs it as code',
  HISTFILE: 'bash writes command history to the file it names',
  INPUTRC: 'readline reads key bindings (which can run commands) from it',
  GCONV_PATH: 'glibc loads character-set modules (code) from it',
  GETCONF_DIR: 'glibc runs programs from it',
  GLIBC_TUNABLES: 'it changes how glibc and the dynamic loader behave',
  LOCPATH: 'glibc reads locale data from it',
  NLSPATH: 'glibc reads message catalogs from it',
  MALLOC_TRACE: 'glibc writes a trace to the file it names',
  NODE_OPTIONS: 'node loads code from it (--require, --import); put flags in the start command',
  PERL5OPT: 'perl runs code from it (-M); put flags in the start command',
  PERL5DB: 'perl runs it as debugger code',
  PYTHONSTARTUP: 'python runs the file it names',
  RUBYOPT: 'ruby loads code from it (-r); put flags in the start command',
  JAVA_TOOL_OPTIONS:
    'the JVM loads agents and runs commands from it; put flags in the start command',
  _JAVA_OPTIONS: 'the JVM loads agents and runs commands from it; put flags in the start command',
  JDK_JAVA_OPTIONS:
    'the JVM loads agents and runs commands from it; put flags in the start command',
};

/** Name prefixes, each with why every name that starts with it is refused. */
export const DENIED_ENV_PREFIXES: Readonly<Record<string, string>> = {
  LD_: 'the dynamic loader reads LD_* variables (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, …) and loads code from them',
  BASH_FUNC_: 'bash imports BASH_FUNC_* variables as shell functions',
};

/** Why `name` may not be set in a manifest's env, or undefined when it may. */
export function deniedEnvReason(name: string): string | undefined {
  if (Object.hasOwn(DENIED_ENV, name)) {
    return `${name} is not allowed: ${DENIED_ENV[name]}`;
  }
  for (const [prefix, reason] of Object.entries(DENIED_ENV_PREFIXES)) {
    if (name.startsWith(prefix)) {
      return `${name} is not allowed: ${reason}`;
    }
  }
  if (name.includes('%')) {
    return `${name} is not allowed: bash reads names with % as exported functions`;
  }
  return undefined;
}
