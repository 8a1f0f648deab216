/**
 * Progress bars for long commands: cli-progress bars on a terminal; on anything else (a pipe, a
 * CI log, `--json`), plain lines printed when a value changes, so logs stay readable.
 *
 * @module
 */
import { MultiBar, Presets } from 'cli-progress';

export interface ProgressBar {
  /** Sets the value (and optionally the total) and a short status text. */
  update(value: number, total: number, status?: string): void;
}

export interface Progress {
  /** A new bar named `label`. */
  bar(label: string, total: number): ProgressBar;
  /** Stops drawing (a terminal gets its cursor back). */
  stop(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Force plain lines (e.g. `--json`: then nothing is printed at all). */
  plain?: boolean;
  /** Print nothing. */
  silent?: boolean;
}

export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stdout;
  if (options.silent) {
    return { bar: () => ({ update() {} }), stop() {} };
  }
  if (!options.plain && stream.isTTY) {
    const multi = new MultiBar(
      {
        stream,
        format: '{label} [{bar}] {value}/{total} {status}',
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
      },
      Presets.shades_classic,
    );
    return {
      bar(label, total) {
        const bar = multi.create(total, 0, { label, status: '' });
        return {
          update(value, newTotal, status = '') {
            if (newTotal !== bar.getTotal()) bar.setTotal(newTotal);
            bar.update(value, { label, status });
          },
        };
      },
      stop: () => multi.stop(),
    };
  }
  return {
    bar(label) {
      let last = '';
      return {
        update(value, total, status = '') {
          const line = `${label} ${value}/${total}${status === '' ? '' : ` ${status}`}`;
          if (line === last) return;
          last = line;
          stream.write(`${line}\n`);
        },
      };
    },
    stop() {},
  };
}
