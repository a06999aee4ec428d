/* redis_scripts.c - the Lua scripts of the Redis store.
 *
 * A script runs atomically inside Redis, so each one turns a multi-key
 * operation (record + indexes, compare-and-set of a claim) into one round trip
 * that either happens completely or not at all, even if the connection drops
 * halfway. They are sent with EVAL each time: a few hundred bytes, Redis keeps
 * the compiled script cached by its hash, and there is no NOSCRIPT retry to
 * get wrong after a restart. Key layout: see docs/store.md. */
#include "redis_scripts.h"

/* clang-format off */
/* Index entries older than the cutoff whose record has expired are removed, a
 * few at a time, whenever an index is written: indexes stay bounded without
 * SCAN and without a sweeper. (The score is created_at; a record whose TTL was
 * restarted by an update outlives it, hence the EXISTS check.) */
#define TRIM_FN \
    "local function trim(key, cutoff, prefix)\n" \
    "  local old = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. cutoff, 'LIMIT', 0, 20)\n" \
    "  for _, id in ipairs(old) do\n" \
    "    if redis.call('EXISTS', prefix .. id) == 0 then redis.call('ZREM', key, id) end\n" \
    "  end\n" \
    "end\n"

/* KEYS: record, idx:all, idx:service, idx:status, idx:svcstatus
 * ARGV: json, ttl s, score, id, trim cutoff, record prefix */
const char store__lua_create[] =
    TRIM_FN
    "if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end\n"
    "for i = 2, #KEYS do\n"
    "  redis.call('ZADD', KEYS[i], ARGV[3], ARGV[4])\n"
    "  trim(KEYS[i], ARGV[5], ARGV[6])\n"
    "end\n"
    "return 1\n";

/* KEYS: record, idx:all, idx:service, idx:status:{queued,running,completed,failed},
 *       idx:svcstatus:{svc}:{same four}
 * ARGV: json, ttl s, score, id, trim cutoff, record prefix, status number 0..3 */
const char store__lua_put[] =
    TRIM_FN
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])\n"
    "redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])\n"
    "local s = tonumber(ARGV[7])\n"
    "for i = 0, 3 do\n"
    "  if i == s then\n"
    "    redis.call('ZADD', KEYS[4 + i], ARGV[3], ARGV[4])\n"
    "    redis.call('ZADD', KEYS[8 + i], ARGV[3], ARGV[4])\n"
    "    trim(KEYS[4 + i], ARGV[5], ARGV[6])\n"
    "    trim(KEYS[8 + i], ARGV[5], ARGV[6])\n"
    "  else\n"
    "    redis.call('ZREM', KEYS[4 + i], ARGV[4])\n"
    "    redis.call('ZREM', KEYS[8 + i], ARGV[4])\n"
    "  end\n"
    "end\n"
    "return 1\n";

/* Newest first from one index, skipping (and unindexing) entries whose
 * record expired, until limit records are found or the index ends.
 * KEYS: index. ARGV: limit, record prefix. Returns the record JSON strings. */
const char store__lua_list[] =
    "local limit = tonumber(ARGV[1])\n"
    "local out, off, rounds = {}, 0, 0\n"
    "while #out < limit and rounds < 50 do\n"
    "  rounds = rounds + 1\n"
    "  local ids = redis.call('ZREVRANGE', KEYS[1], off, off + limit - 1)\n"
    "  if #ids == 0 then break end\n"
    "  local keys = {}\n"
    "  for i, id in ipairs(ids) do keys[i] = ARGV[2] .. id end\n"
    "  local vals = redis.call('MGET', unpack(keys))\n"
    "  local gone = 0\n"
    "  for i = 1, #ids do\n"
    "    if vals[i] then\n"
    "      if #out < limit then out[#out + 1] = vals[i] end\n"
    "    else\n"
    "      redis.call('ZREM', KEYS[1], ids[i])\n"
    "      gone = gone + 1\n"
    "    end\n"
    "  end\n"
    "  if #ids < limit then break end\n"
    "  off = off + #ids - gone\n"
    "end\n"
    "return out\n";

/* KEYS: record, idx:all, leases. ARGV: id, index prefix ("profd:idx:").
 * The record names its service, which names the remaining indexes. */
const char store__lua_remove[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "local sts = {'queued', 'running', 'completed', 'failed'}\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "redis.call('ZREM', KEYS[3], ARGV[1])\n"
    "for _, st in ipairs(sts) do redis.call('ZREM', ARGV[2] .. 'status:' .. st, ARGV[1]) end\n"
    "if not v then return 0 end\n"
    "local ok, rec = pcall(cjson.decode, v)\n"
    "if ok and type(rec) == 'table' and type(rec.service_name) == 'string' then\n"
    "  local svc = rec.service_name\n"
    "  redis.call('ZREM', ARGV[2] .. 'service:' .. svc, ARGV[1])\n"
    "  for _, st in ipairs(sts) do\n"
    "    redis.call('ZREM', ARGV[2] .. 'svcstatus:' .. svc .. ':' .. st, ARGV[1])\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return 1\n";

/* KEYS: claim key. ARGV: owner, ttl ms. 1 won (or already ours: extended), 0 held. */
const char store__lua_claim[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end\n"
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end\n"
    "return 0\n";

/* KEYS: claim key. ARGV: owner, ttl ms. 1 extended, 0 held by another,
 * 2 the key had vanished (expired, or Redis lost its data) and is retaken. */
const char store__lua_renew[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end\n"
    "if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end\n"
    "return 0\n";

/* KEYS: claim key. ARGV: owner. 1 deleted, 0 not ours (left alone). */
const char store__lua_release[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

/* KEYS: counter. ARGV: window s. The first increment starts the window; a
 * counter found without a TTL (never expected) gets one rather than living on. */
const char store__lua_incr[] =
    "local n = redis.call('INCR', KEYS[1])\n"
    "if n == 1 or redis.call('TTL', KEYS[1]) < 0 then\n"
    "  redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "end\n"
    "return n\n";
/* clang-format on */
