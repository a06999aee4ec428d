// gen_requests.mjs - write random profiling requests, good and bad, for the
// differential check in tests/session/schema_drift.sh:
//
//   node gen_requests.mjs DIR COUNT [SEED]
//
// Each message is built from raw JSON snippets, so it can hold forms that
// JSON.stringify never writes (60.0, 6e1, 1e400, escapes). Every field is
// absent, valid or invalid at random, with values close to every boundary of
// docs/messages.md; a few messages repeat a member, and a few are truncated
// or have bytes appended.
// The same SEED always gives the same files. C (request_judge) and ajv
// (validate.mjs) must give the same verdict on each one.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [dir, countArg, seedArg] = process.argv.slice(2);
if (!dir || !countArg) {
    console.error("usage: node gen_requests.mjs DIR COUNT [SEED]");
    process.exit(2);
}
const count = Number(countArg);
let seed = Number(seedArg || 1) >>> 0;

// mulberry32: small, seedable, good enough to pick test values.
function random() {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(random() * a.length)];
const q = (s) => JSON.stringify(s);
const rep = (s, n) => s.repeat(n);
const nest = (n) => rep('{"x":', n) + "{}" + rep("}", n);
const labels = (n) =>
    "{" + Array.from({ length: n }, (_, i) => `${q("l" + i)}:${q("v")}`).join(",") + "}";

const uuid = "123e4567-e89b-42d3-a456-426614174000";
const values = {
    version: ["1", "1.0", "1e0", "2", "0", '"1"', "null", "true", "-1"],
    type: ['"profile"', '"reprocess"', '"cancel"', '"alert"', '"PROFILE"', '""', "null", "1"],
    session_id: [q(uuid), q(uuid.toUpperCase()), "null", '"abc"', q(uuid + "0"),
        q(uuid.replace(/-/g, "")), '"../../etc/passwd"', "123", '""', q(uuid.slice(0, 35) + "g")],
    service_name: ['"web-api"', '"a"', '"0"', q("a" + rep("b", 62)), q(rep("a", 64)), '"Web"',
        '"-a"', '".a"', '"_a"', '"a/b"', '"../etc"', '"a b"', '""', "null", "5", '"w\\u00e9b"',
        '"a_b.c-d"', '"a;b"', '"$(id)"', '"web\\u0041"', '"web\\u0061"'],
    duration_seconds: ["60", "10", "300", "9", "301", "60.0", "6e1", "0.1e3", "60.5", '"60"',
        "true", "null", "-0", "0", "1e400", "99999999999999999999", "-60", "3e2", "3.001e2"],
    rate_hz: ["1", "1000", "100", "0", "1001", "100.0", '"100"', "null", "1e3", "999.9", "-1"],
    pid: ["null", "1", "4194304", "4194305", "0", "-1", '"1"', "1.5", "true", "12345", "1.0"],
    host: ["null", '"node-1"', '"h"', '""', '"-h"', '"a/b"', '"../etc"', '"node 1"',
        q(rep("h", 253)), q(rep("h", 254)), "7", '"NODE_1.x"', '"n\\u006fde"', '"node\\u0000"'],
    trigger: ['"api"', '"cli"', '"alert"', '"schedule"', '"reprocess"', '"manual"', "null",
        '""', "1", '"API"'],
    requested_by: ["null", '"alice"', '""', q(rep("a", 127)), q(rep("a", 128)), '"a\\nb"',
        '"jos\\u00e9"', "5", '"\\u0041"', '"a\\u007fb"', '"~ !"'],
    requested_at: ['"2024-01-15T10:30:00Z"', '"2024-01-15t10:30:00z"', '"2024-01-15 10:30:00Z"',
        '"2024-02-29T00:00:00Z"', '"2023-02-29T00:00:00Z"', '"2100-02-29T00:00:00Z"',
        '"2000-02-29T00:00:00Z"', '"2024-04-31T00:00:00Z"', '"2024-01-15T10:30:00.Z"',
        '"2024-01-15T10:30:00.123456789+05:30"', '"2024-01-15T10:30:00.1234567890Z"',
        '"2024-01-15T10:30:00+24:00"', '"2024-01-15T10:30:00-23:59"', '"2024-01-15T10:30:00"',
        '"2024-01-15T23:59:60Z"', '"2024-00-10T10:30:00Z"', '"2024-01-00T10:30:00Z"',
        '"2024-01-15T10:60:00Z"', '"2024-01-15"', "null", "1705314600", '"0000-01-01T00:00:00Z"',
        '"2024-01-15T10:30:00+01"', '"2024-01-15T10:30:00+0100"', '"2024-01-15T10:30Z"'],
    options: ["null", "{}", '{"gil":true}', '{"gil":"true"}', '{"native":1}', '"x"', "[]",
        '{"x":5}', '{"idle":false,"nonblocking":true,"subprocesses":true}', '{"gil":null}'],
    labels: ["null", "{}", '{"a":"b"}', '{"a":1}', '{"1a":"b"}', '{"_a.b-c":"x"}', labels(32),
        labels(33), q({ a: rep("\u00e9", 256) }), q({ a: rep("\u00e9", 257) }),
        '{"a":"\\u001f"}', '{"a":"\\u007f"}', '{"a":"\\u0080"}', "[]", '"x"', '{"":"x"}',
        q({ ["k" + rep("x", 62)]: "v" }), q({ ["k" + rep("x", 63)]: "v" }),
        q({ a: rep("\u{1F600}", 256) }), q({ a: rep("\u{1F600}", 257) })],
    source: ['"alertmanager"', '"gcp"', '"datadog"', "null", "1"],
    payload: ["{}", '{"a":[1,2,{"b":null}]}', "[]", '"x"', "null", nest(61), nest(62), nest(63)],
    extra: ['"x"', "[1,2]", '{"nested":{"deep":[true,false,null]}}', "1e400", '"\\ud83d\\ude00"'],
};

const valid = (pool) => (pool[0] === "null" ? pool[1] : pool[0]);

// Which members a message has; the type decides what is likely needed.
function chooseKeys(type) {
    const keys = [];
    for (const key of Object.keys(values)) {
        let p = 0.5;
        if (key === "type") p = type ? 1 : 0.1;
        if (key === "source" || key === "payload") p = type === "alert" ? 0.9 : 0.1;
        if (key === "session_id" && (type === "cancel" || type === "reprocess")) p = 0.9;
        if (key === "service_name" && type === "profile") p = 0.9;
        if (random() < p) keys.push(key);
    }
    return keys;
}

// Most messages have one random member among valid ones, so every rule is
// reached; the others mix random and valid members freely.
function message() {
    const type = pick(["profile", "profile", "profile", "cancel", "reprocess", "alert", null]);
    const keys = chooseKeys(type);
    const fault = keys.length && random() < 0.6 ? pick(keys) : null;
    const members = keys.map((key) => {
        const pool = values[key];
        let v;
        if (fault) v = key === fault ? pick(pool) : valid(pool);
        else v = random() < 0.6 ? valid(pool) : pick(pool);
        if (key === "type" && type && key !== fault) v = q(type);
        return `${q(key)}:${v}`;
    });
    if (keys.length && random() < 0.05) {
        const key = pick(keys); // a repeated member: the last one counts
        members.push(`${q(key)}:${pick(values[key])}`);
    }
    let text = "{" + members.join(pick([",", ", ", ",\n  "])) + "}";
    const r = random();
    if (r < 0.04) text = text.slice(0, Math.floor(random() * text.length));
    else if (r < 0.06) text += pick([" x", "}", ",", "\u0000", "\n"]);
    return text;
}

mkdirSync(dir, { recursive: true });
for (let i = 0; i < count; i++)
    writeFileSync(join(dir, `gen-${String(i).padStart(5, "0")}.json`), message());
