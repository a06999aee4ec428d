// validate.mjs - check JSON messages against profd's JSON Schemas with ajv.
//
//   node validate.mjs [--schema FILE] PATH...
//
// PATH is a file or a directory (every *.json in it, sorted). The schema
// defaults to schemas/profiling-request.schema.json; the other schemas in
// schemas/ are loaded too, so $refs between them resolve. One line per file:
//
//   pass<TAB>FILE
//   fail<TAB>FILE<TAB>STAGE<TAB>REASON<TAB>FIELD
//
// FIELD is the top-level member that broke a rule ("message" for the message
// as a whole), as profd's C error names it before its colon.
// STAGE says what rejected the file:
//   json       JSON.parse refused it (malformed JSON);
//   schema     the JSON Schema refused it;
//   transport  only the transport rules refused it: the rules of a message that
//              JSON Schema cannot state (profd checks them in C before the
//              fields, see src/session/json_check.c and docs/messages.md):
//              at most 65536 bytes, valid UTF-8, nesting at most 64 deep, no
//              U+0000 and no lone surrogate in any string or member name.
//              They are checked on the text, not on what JSON.parse returns.
// tests/session/schema_drift.sh requires the bad fixtures rejected only at
// the transport stage to be exactly those listed in
// tests/fixtures/requests/TRANSPORT, so that list stays explicit and small.
//
// Exit status: 0 when every file was judged (whatever the verdicts), 2 on bad
// usage or an unreadable schema.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const MAX_MESSAGE = 64 * 1024;
const MAX_DEPTH = 64;

const here = dirname(fileURLToPath(import.meta.url));
const schemaDir = resolve(here, "../../schemas");

function usage(msg) {
    console.error(`validate.mjs: ${msg}`);
    console.error("usage: node validate.mjs [--schema FILE] PATH...");
    process.exit(2);
}

function loadSchemas(main) {
    const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true });
    addFormats(ajv);
    let mainId = null;
    for (const f of readdirSync(schemaDir).filter((n) => n.endsWith(".schema.json")).sort()) {
        const path = join(schemaDir, f);
        const schema = JSON.parse(readFileSync(path, "utf8"));
        ajv.addSchema(schema);
        if (resolve(path) === resolve(main)) mainId = schema.$id;
    }
    if (!mainId) {
        const schema = JSON.parse(readFileSync(main, "utf8"));
        ajv.addSchema(schema);
        mainId = schema.$id;
    }
    return ajv.getSchema(mainId);
}

// The transport rules that look inside the JSON, checked on the text as profd
// checks them on the bytes (a repeated member that JSON.parse drops still
// counts). Runs only on text JSON.parse accepted, so it is well formed.
function transportText(text) {
    let depth = 0;
    let max = 0;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (c === "{" || c === "[") max = Math.max(max, ++depth);
        else if (c === "}" || c === "]") depth--;
        if (c !== '"') continue;
        for (i++; text[i] !== '"'; i++) {
            if (text[i] !== "\\" || text[++i] !== "u") continue;
            const u = parseInt(text.slice(i + 1, i + 5), 16);
            i += 4;
            if (u === 0) return "U+0000 in a string";
            if (u >= 0xdc00 && u <= 0xdfff) return "lone surrogate in a string";
            if (u < 0xd800 || u > 0xdbff) continue;
            const pair = text.slice(i + 1, i + 3) === "\\u";
            const lo = pair ? parseInt(text.slice(i + 3, i + 7), 16) : -1;
            if (lo < 0xdc00 || lo > 0xdfff) return "lone surrogate in a string";
            i += 6;
        }
    }
    return max > MAX_DEPTH ? `nesting deeper than ${MAX_DEPTH}` : null;
}

function judge(validate, file) {
    const bytes = readFileSync(file);
    let transport = null;
    if (bytes.length > MAX_MESSAGE) transport = `${bytes.length} bytes is over ${MAX_MESSAGE}`;
    let text;
    try {
        text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
        transport = transport || "invalid UTF-8";
        text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
    }
    let doc;
    try {
        doc = JSON.parse(text);
    } catch (e) {
        return ["json", e.message, "message"];
    }
    if (!transport) transport = transportText(text);
    if (!validate(doc)) {
        const e = validate.errors[0];
        const field =
            e.keyword === "required"
                ? e.params.missingProperty
                : e.instancePath.split("/")[1] || "message";
        return ["schema", `${e.instancePath || "/"} ${e.message} (${e.schemaPath})`, field];
    }
    return transport ? ["transport", transport, "message"] : null;
}

function files(paths) {
    const out = [];
    for (const p of paths) {
        if (statSync(p).isDirectory()) {
            for (const n of readdirSync(p).filter((n) => n.endsWith(".json")).sort())
                out.push(join(p, n));
        } else {
            out.push(p);
        }
    }
    return out;
}

const args = process.argv.slice(2);
let schemaFile = join(schemaDir, "profiling-request.schema.json");
if (args[0] === "--schema") {
    if (args.length < 2) usage("--schema needs a file");
    schemaFile = args[1];
    args.splice(0, 2);
}
if (args.length === 0) usage("no files given");

let validate;
try {
    validate = loadSchemas(schemaFile);
} catch (e) {
    console.error(`validate.mjs: cannot load schema ${schemaFile}: ${e.message}`);
    process.exit(2);
}
for (const f of files(args)) {
    const verdict = judge(validate, f);
    // Reasons may quote the input: keep each verdict on one line.
    const clean = (x) => x.replace(/[\u0000-\u001f\u007f]/g, " ");
    console.log(verdict ? `fail\t${f}\t${verdict.map(clean).join("\t")}` : `pass\t${f}`);
}
