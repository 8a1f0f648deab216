/** Types of scripts/bundle-budgets.mjs, for test/browser-bundle.test.ts. */

export interface Budget {
  name: string;
  description: string;
  /** The consumer entry file's source (imports from `otakit`). */
  source: string;
  /** Gzip ceiling in bytes. */
  budget: number;
}

export interface BundleResult {
  name: string;
  description: string;
  minifiedBytes: number;
  gzipBytes: number;
  budgetBytes: number;
  ok: boolean;
  inputFiles: number;
  largestInputs: { input: string; minifiedBytes: number }[];
}

export const BUDGETS: Budget[];
export function run(command: string, args: string[], cwd: string): { stdout: string; output: string };
export function pack(packDir: string): {
  tarball: string;
  info: { filename: string; entryCount: number; size: number; files: { path: string }[] };
};
export function installConsumer(projectDir: string, tarball: string, packages: string[]): Promise<void>;
export function measureBundles(projectDir: string): Promise<BundleResult[]>;
export function report(results: BundleResult[], log?: (line: string) => void): BundleResult[];
export function writeResults(results: BundleResult[], file?: string): Promise<void>;
export function measurePackedPackage(): Promise<BundleResult[]>;
