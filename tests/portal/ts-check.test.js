// Every portal module is type-checked: tsc (make lint) checks the files tsconfig.json includes,
// and each file says so itself with `// @ts-check` on its first line (editors check it too).
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { it } from "node:test";

const JS = new URL("../../portal/js/", import.meta.url);

it("every file in portal/js starts with // @ts-check", () => {
  const files = readdirSync(JS).filter((name) => name.endsWith(".js"));
  assert.ok(files.length >= 10, `found ${files}`);
  const unchecked = files.filter((name) => !readFileSync(new URL(name, JS), "utf8").startsWith("// @ts-check\n"));
  assert.deepEqual(unchecked, []);
});

it("tsconfig.json checks every file in portal/js, strictly, with the DOM", () => {
  const text = readFileSync(new URL("../../tsconfig.json", import.meta.url), "utf8");
  const config = JSON.parse(text.replace(/^\s*\/\/.*$/gm, ""));
  assert.deepEqual(config.include, ["portal/js/**/*.js"]);
  assert.equal(config.compilerOptions.checkJs, true);
  assert.equal(config.compilerOptions.strict, true);
  assert.ok(config.compilerOptions.lib.includes("DOM"));
});
