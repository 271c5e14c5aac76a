// @vitest-environment node
/**
 * The committed src/api-types.ts must be what openapi-typescript makes of the server's current
 * OpenAPI schema (dumped from the Python app). If this fails, run `npm run generate`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(join(tmpdir(), "lf-api-types-"));

afterAll(() => rmSync(work, { recursive: true, force: true }));

it("src/api-types.ts is up to date with the server's OpenAPI schema", () => {
  const schema = join(work, "openapi.json");
  const fresh = join(work, "api-types.ts");
  execFileSync("bash", [join(root, "scripts", "dump-openapi.sh"), schema], { stdio: "pipe" });
  execFileSync(
    process.execPath,
    [join(root, "node_modules", "openapi-typescript", "bin", "cli.js"), schema, "--output", fresh],
    { cwd: root, stdio: "pipe" },
  );
  const committed = readFileSync(join(root, "src", "api-types.ts"), "utf8");
  expect(
    committed === readFileSync(fresh, "utf8"),
    "src/api-types.ts is stale: run `npm run generate` in clients/react and commit it",
  ).toBe(true);
}, 120_000);
