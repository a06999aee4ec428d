/* render__read_speedscope.c - speedscope JSON input (py-spy's, ours, speedscope's).
 *
 * Unlike collapsed stacks, a speedscope file is parsed in memory with json-c
 * (capped at MAX_JSON): it is already aggregated by frame index, so it is
 * small next to the collapsed text it came from.
 *
 * Frames become "name (file:line)" (py-spy's collapsed spelling) when they
 * carry a file and line, so both inputs merge into the same tree. Sampled
 * profiles add each sample with its weight; evented profiles are replayed,
 * and the time between two events is the weight of the stack open then.
 * Weights must end up integers. Sampled weights that are fractional but all
 * multiples of the smallest (py-spy and profd sample write 1/rate seconds a
 * sample) become sample counts again; otherwise, and for evented profiles,
 * fractional values are scaled to microseconds for time units (x1000 for
 * other units) and rounded. With several profiles (py-spy writes one per
 * thread), each profile's stacks go under a root frame named after the
 * profile; a stack that already starts with that frame (our own output, see
 * write_speedscope.c) is not given it twice. */
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_JSON (1024u << 20)

typedef struct ss {
    profd_profile *p;
    profd_error *err;
    uint32_t *fids; /* shared frame index -> interned frame */
    size_t nframes;
} ss;

static int fail(ss *s, const char *msg)
{
    profd_error_set(s->err, PROFD_E_INVALID, "speedscope input: %s", msg);
    return -1;
}

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static int intern_frames(ss *s, json_object *frames)
{
    if (!frames || !json_object_is_type(frames, json_type_array))
        return fail(s, "shared.frames is missing or not an array");
    s->nframes = json_object_array_length(frames);
    s->fids = malloc((s->nframes ? s->nframes : 1) * sizeof *s->fids);
    if (!s->fids)
        return fail(s, "out of memory");
    for (size_t i = 0; i < s->nframes; i++) {
        json_object *f = json_object_array_get_idx(frames, i);
        json_object *name = get(f, "name"), *file = get(f, "file"), *line = get(f, "line");
        if (!name || !json_object_is_type(name, json_type_string))
            return fail(s, "a frame has no name");
        const char *nm = json_object_get_string(name);
        char *full = NULL;
        int n;
        if (file && json_object_is_type(file, json_type_string) && line)
            n = asprintf(&full, "%s (%s:%lld)", nm, json_object_get_string(file),
                         (long long)json_object_get_int64(line));
        else if (file && json_object_is_type(file, json_type_string))
            n = asprintf(&full, "%s (%s)", nm, json_object_get_string(file));
        else
            n = asprintf(&full, "%s", nm);
        if (n < 0)
            return fail(s, "out of memory");
        s->fids[i] = render__profile_intern(s->p, full, (size_t)n);
        free(full);
        if (s->fids[i] == NO_FRAME)
            return fail(s, "out of memory");
    }
    return 0;
}

static double unit_scale(const char *unit)
{
    if (!unit)
        return 1000;
    if (strcmp(unit, "seconds") == 0)
        return 1e6;
    if (strcmp(unit, "milliseconds") == 0)
        return 1e3;
    if (strcmp(unit, "microseconds") == 0 || strcmp(unit, "nanoseconds") == 0)
        return 1;
    return 1000;
}

/* Integer weights are counts already. Fractional ones that are all multiples
 * of the smallest (py-spy and profd sample write 1/rate seconds per sample)
 * are turned back into sample counts; anything else is scaled by its unit. */
static double sample_scale(json_object *prof, json_object *weights, size_t n)
{
    double wmin = 0;
    int integral = 1;
    for (size_t i = 0; i < n; i++) {
        double w = json_object_get_double(json_object_array_get_idx(weights, i));
        if (w != floor(w))
            integral = 0;
        if (w > 0 && (wmin == 0 || w < wmin))
            wmin = w;
    }
    if (integral || wmin == 0)
        return 1;
    int multiples = 1;
    for (size_t i = 0; i < n && multiples; i++) {
        double r = json_object_get_double(json_object_array_get_idx(weights, i)) / wmin;
        multiples = fabs(r - round(r)) <= 1e-6 * r + 1e-9;
    }
    if (multiples)
        return 1 / wmin;
    json_object *u = get(prof, "unit");
    return unit_scale(u ? json_object_get_string(u) : NULL);
}

/* A stack of shared frame indices: a sample's JSON array, or the open frames
 * of an evented profile. */
typedef struct frames {
    json_object *json;
    const int *open;
    size_t n;
} frames;

static int64_t frame_at(const frames *f, size_t i)
{
    if (f->json)
        return json_object_get_int64(json_object_array_get_idx(f->json, i));
    return f->open[i];
}

/* Add one stack under root (a node) with a weight. */
static int add_indices(ss *s, uint32_t root, const frames *f, uint64_t w)
{
    uint32_t node = root;
    for (size_t i = 0; i < f->n; i++) {
        int64_t fi = frame_at(f, i);
        if (fi < 0 || (size_t)fi >= s->nframes)
            return fail(s, "a sample refers to a frame that does not exist");
        if (i == 0 && root != 0 && s->p->nodes[root].fid == s->fids[fi])
            continue; /* already starts with the profile's root frame */
        if ((node = render__profile_child(s->p, node, s->fids[fi])) == UINT32_MAX)
            return fail(s, "out of memory");
    }
    if (w && render__profile_add_self(s->p, node, w) < 0)
        return fail(s, "sample total overflows 64 bits");
    return 0;
}

static int sampled(ss *s, json_object *prof, uint32_t root)
{
    json_object *samples = get(prof, "samples"), *weights = get(prof, "weights");
    if (!samples || !json_object_is_type(samples, json_type_array) || !weights ||
        !json_object_is_type(weights, json_type_array) ||
        json_object_array_length(samples) != json_object_array_length(weights))
        return fail(s, "a sampled profile needs samples and weights of the same length");
    size_t n = json_object_array_length(samples);
    double scale = sample_scale(prof, weights, n);
    for (size_t i = 0; i < n; i++) {
        json_object *st = json_object_array_get_idx(samples, i);
        double w = json_object_get_double(json_object_array_get_idx(weights, i)) * scale;
        if (!json_object_is_type(st, json_type_array) || !(w >= 0) || w > 1e18)
            return fail(s, "a sample is not an array of frame indices with a weight >= 0");
        frames f = {st, NULL, json_object_array_length(st)};
        if (add_indices(s, root, &f, (uint64_t)llround(w)) < 0)
            return -1;
    }
    return 0;
}

static int evented(ss *s, json_object *prof, uint32_t root)
{
    json_object *events = get(prof, "events"), *u = get(prof, "unit");
    if (!events || !json_object_is_type(events, json_type_array))
        return fail(s, "an evented profile needs events");
    size_t n = json_object_array_length(events);
    double scale = 1, last = json_object_get_double(get(prof, "startValue"));
    for (size_t i = 0; i < n; i++) {
        double at = json_object_get_double(get(json_object_array_get_idx(events, i), "at"));
        if (at != floor(at)) {
            scale = unit_scale(u ? json_object_get_string(u) : NULL);
            break;
        }
    }
    int *stack = malloc((n + 1) * sizeof *stack);
    size_t depth = 0;
    int rc = stack ? 0 : fail(s, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_object *e = json_object_array_get_idx(events, i);
        json_object *t = get(e, "type"), *fr = get(e, "frame");
        double at = json_object_get_double(get(e, "at"));
        const char *ty = t ? json_object_get_string(t) : "";
        if (!fr || at < last || (strcmp(ty, "O") != 0 && strcmp(ty, "C") != 0)) {
            rc = fail(s, "events must be O/C with a frame, in time order");
            break;
        }
        if (depth && at > last) {
            frames f = {NULL, stack, depth};
            rc = add_indices(s, root, &f,
                             (uint64_t)llround(at * scale) - (uint64_t)llround(last * scale));
        }
        last = at;
        int fi = json_object_get_int(fr);
        if (ty[0] == 'O')
            stack[depth++] = fi;
        else if (!depth || stack[--depth] != fi)
            rc = fail(s, "a close event does not match the open frame");
    }
    free(stack);
    return rc;
}

static int profiles(ss *s, json_object *list)
{
    size_t n = json_object_array_length(list);
    for (size_t i = 0; i < n; i++) {
        json_object *prof = json_object_array_get_idx(list, i);
        json_object *type = get(prof, "type"), *name = get(prof, "name");
        uint32_t root = 0;
        if (n > 1) {
            const char *nm = name ? json_object_get_string(name) : "profile";
            uint32_t fid = render__profile_intern(s->p, nm, strlen(nm));
            if (fid == NO_FRAME || (root = render__profile_child(s->p, 0, fid)) == UINT32_MAX)
                return fail(s, "out of memory");
        }
        const char *ty = type ? json_object_get_string(type) : "";
        int rc = strcmp(ty, "sampled") == 0 ? sampled(s, prof, root)
                 : strcmp(ty, "evented") == 0
                     ? evented(s, prof, root)
                     : fail(s, "a profile's type is not sampled or evented");
        if (rc < 0)
            return -1;
    }
    return 0;
}

static char *slurp(FILE *in, const char *first, size_t nfirst, size_t *len, profd_error *err)
{
    size_t cap = nfirst + 65536, n = nfirst;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    memcpy(buf, first, nfirst);
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_JSON) {
                profd_error_set(err, PROFD_E_INVALID, "speedscope input is larger than 1 GiB");
                free(buf);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, in);
        n += got;
        if (!got)
            break;
    }
    *len = n;
    return buf;
}

int render__read_speedscope(profd_profile *p, FILE *in, const char *first, size_t nfirst,
                            profd_error *err)
{
    size_t len = 0;
    char *text = slurp(in, first, nfirst, &len, err);
    if (!text) {
        if (err && !err->msg[0])
            profd_error_set(err, NULL, "out of memory reading speedscope input");
        return -1;
    }
    json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    json_object *root = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
    ss s = {.p = p, .err = err};
    int rc;
    if (!root || json_tokener_get_error(tok) != json_tokener_success) {
        profd_error_set(err, PROFD_E_INVALID, "input starts with '{' but is not valid JSON (%s)",
                        tok ? json_tokener_error_desc(json_tokener_get_error(tok)) : "no memory");
        rc = -1;
    } else {
        json_object *shared = get(root, "shared"), *list = get(root, "profiles");
        if (!list || !json_object_is_type(list, json_type_array))
            rc = fail(&s, "no profiles array (is this a speedscope file?)");
        else
            rc = intern_frames(&s, shared ? get(shared, "frames") : NULL) < 0 ? -1
                                                                              : profiles(&s, list);
    }
    free(s.fids);
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    free(text);
    return rc;
}
