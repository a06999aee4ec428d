// validate_speedscope.mjs - validate a speedscope file against speedscope's JSON Schema (ajv).
//   node validate_speedscope.mjs SCHEMA FILE
// Prints "pass" or "fail: <errors>"; exit 0 on pass, 1 on fail.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(join(process.env.PROFD_SOURCE_DIR, "tests/node/package.json"));
const Ajv = require("ajv");
const ajv = new Ajv({ strict: false, allErrors: true });
const validate = ajv.compile(JSON.parse(readFileSync(process.argv[2], "utf8")));
const doc = JSON.parse(readFileSync(process.argv[3], "utf8"));
if (validate(doc)) {
  console.log("pass");
} else {
  console.log("fail: " + ajv.errorsText(validate.errors));
  process.exit(1);
}
