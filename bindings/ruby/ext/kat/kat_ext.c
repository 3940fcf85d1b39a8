/*
 * kat_ext.c: the native hot path of the kat gem, written against include/kat.h
 * and linked with libkat.a (statically; only Init_kat_ext is exported).
 *
 * - Reads by name are one call into libkat with the Ruby string's bytes and
 *   length (the `_n` functions): no copy, no Ruby allocation.
 * - `assignments`, `generations` and Karafka's integer `generations` are built
 *   from one held snapshot, cached per epoch, and rebuilt incrementally: a
 *   topic whose view is the same in the new snapshot as in the previous one
 *   (same partitions / records address while both are held) keeps its frozen
 *   Ruby array or hash.
 * - Events take the Ruby Hash (or anything with #to_h, such as rdkafka-ruby's
 *   TopicPartitionList) in one call, check every element first, and hand
 *   libkat one array.
 *
 * Thread-safety: methods run with the GVL held. A cache rebuild can let
 * another Ruby thread run (it allocates Ruby objects); a second thread that
 * needs a rebuild meanwhile builds its answer without the cache instead of
 * waiting, so readers never wait for each other.
 */
#include <ruby.h>
#include <ruby/encoding.h>
#include <ruby/thread.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kat.h"

static VALUE mKat, cTracker, cGroup, cPartition, cTopic, cPartitionState, cGroupStats;
static VALUE mKarafka, cKarafkaTracker;
static VALUE eError;
static ID id_aref, id_keys, id_resolved, id_register, id_groups_by_sg, id_group_for;
static VALUE sym_subscription_group, sym_tpl;
static ID id_new, id_partition, id_to_h, id_address, id_code, id_errors, id_routes,
    id_generation_of_unknown, id_to_a;
static VALUE sym_assigned, sym_revoked, sym_lost, sym_none;
static int enc_utf8, enc_ascii, enc_binary;

/* ------------------------------------------------------------------ errors */

static VALUE error_class(kat_result rc) {
    VALUE table = rb_const_get(mKat, id_errors);
    VALUE klass = rb_hash_lookup2(table, INT2FIX((int)rc), Qnil);
    return NIL_P(klass) ? eError : klass;
}

/* Raises the Kat::Error subclass of `rc` with the gem's message (`code` set). */
static void raise_code(kat_result rc, VALUE message) {
    VALUE exc = rb_exc_new_str(error_class(rc), message);
    rb_ivar_set(exc, id_code, INT2FIX((int)rc));
    rb_exc_raise(exc);
}

/* Raises for a failed libkat call: its detail without the C function name
 * (Ruby callers never see C functions), prefixed with `context` if given. */
static void raise_kat(kat_result rc, const char *context) {
    char buf[1024];
    size_t len = kat_last_error_message(buf, sizeof buf);
    if (len >= sizeof buf) len = sizeof buf - 1;
    const char *text = buf;
    const char *colon = strstr(buf, ": ");
    if (colon != NULL && strncmp(buf, "kat_", 4) == 0) text = colon + 2;
    if (*text == '\0') text = kat_result_message((unsigned)rc);
    VALUE msg = context ? rb_sprintf("%s: %s", context, text) : rb_utf8_str_new_cstr(text);
    raise_code(rc, msg);
}

#define CHECK_KAT(call, context)                   \
    do {                                           \
        kat_result check_rc_ = (call);             \
        if (check_rc_ != KAT_OK) raise_kat(check_rc_, (context)); \
    } while (0)

static VALUE short_inspect(VALUE v) {
    VALUE s = rb_inspect(v);
    if (RSTRING_LEN(s) > 80) s = rb_str_substr(s, 0, 80);
    return s;
}

/* ------------------------------------------------------------- arguments */

/* A String (or Symbol) usable as a name: its bytes in UTF-8. Returns Qundef
 * if `v` is neither. Converts other encodings (rare; allocates). */
static VALUE name_string(VALUE v) {
    VALUE s;
    if (RB_TYPE_P(v, T_STRING)) {
        s = v;
    } else if (SYMBOL_P(v)) {
        s = rb_sym2str(v);
    } else {
        return Qundef;
    }
    int idx = ENCODING_GET(s);
    if (idx != enc_utf8 && idx != enc_ascii && idx != enc_binary &&
        rb_enc_str_coderange(s) != ENC_CODERANGE_7BIT) {
        s = rb_str_encode(s, rb_enc_from_encoding(rb_utf8_encoding()), 0, Qnil);
    }
    return s;
}

static VALUE group_arg(VALUE v) {
    VALUE s = name_string(v);
    if (s == Qundef) {
        raise_code(KAT_ERR_INVALID_GROUP,
                   rb_sprintf("group name must be a String or Symbol, got %" PRIsVALUE ": %" PRIsVALUE,
                              rb_obj_class(v), short_inspect(v)));
    }
    return s;
}

static VALUE topic_arg(VALUE v) {
    VALUE s = name_string(v);
    if (s == Qundef) {
        raise_code(KAT_ERR_INVALID_TOPIC,
                   rb_sprintf("topic name must be a String or Symbol, got %" PRIsVALUE ": %" PRIsVALUE,
                              rb_obj_class(v), short_inspect(v)));
    }
    return s;
}

/* 0..2**31-1 as int32, or -1 when `v` is not such an Integer. */
static int32_t partition_or_neg(VALUE v) {
    if (FIXNUM_P(v)) {
        long p = FIX2LONG(v);
        if (p >= 0 && p <= INT32_MAX) return (int32_t)p;
    }
    return -1;
}

static int32_t partition_arg(VALUE v, VALUE topic) {
    int32_t p = partition_or_neg(v);
    if (p >= 0) return p;
    VALUE prefix = NIL_P(topic) ? rb_str_new_cstr("") : rb_sprintf("topic %" PRIsVALUE ": ", rb_inspect(topic));
    if (!RB_INTEGER_TYPE_P(v)) {
        raise_code(KAT_ERR_INVALID_PARTITION,
                   rb_sprintf("%" PRIsVALUE "partition must be an Integer, got %" PRIsVALUE ": %" PRIsVALUE,
                              prefix, rb_obj_class(v), short_inspect(v)));
    }
    raise_code(KAT_ERR_INVALID_PARTITION,
               rb_sprintf("%" PRIsVALUE "partition %" PRIsVALUE " is out of range 0..2147483647", prefix,
                          rb_inspect(v)));
    return -1;
}

static VALUE interned(const char *p, size_t len) {
    return rb_enc_interned_str(p, (long)len, rb_utf8_encoding());
}

/* A frozen Kat::Topic(group, name) without running Ruby code. */
static VALUE make_topic(VALUE group, VALUE name) {
    VALUE t = rb_struct_alloc_noinit(cTopic);
    RSTRUCT_SET(t, 0, group);
    RSTRUCT_SET(t, 1, name);
    return rb_obj_freeze(t);
}

static VALUE status_symbol(kat_status s) {
    switch (s) {
    case KAT_STATUS_ASSIGNED: return sym_assigned;
    case KAT_STATUS_REVOKED: return sym_revoked;
    case KAT_STATUS_LOST: return sym_lost;
    default: return sym_none;
    }
}

static VALUE make_state(uint64_t generation, kat_status status) {
    VALUE s = rb_struct_alloc_noinit(cPartitionState);
    RSTRUCT_SET(s, 0, ULL2NUM(generation));
    RSTRUCT_SET(s, 1, status_symbol(status));
    return rb_obj_freeze(s);
}

/* ------------------------------------------------------------ the caches */

/* Assignments and generations keyed by Kat::Topic; and, for the Karafka
 * drop-in, assignments and generation numbers keyed by the routing topics
 * of `routes` (group name => topic name => routing topic). */
enum cache_kind {
    CACHE_ASSIGNMENTS = 0,
    CACHE_GENERATIONS = 1,
    CACHE_NUMBERS = 2,
    CACHE_ROUTED_ASSIGNMENTS = 3,
    CACHE_ROUTED_NUMBERS = 4,
    CACHE_KINDS = 5
};

static int kind_has_records(enum cache_kind k) {
    return k != CACHE_ASSIGNMENTS && k != CACHE_ROUTED_ASSIGNMENTS;
}

static int kind_is_routed(enum cache_kind k) {
    return k == CACHE_ROUTED_ASSIGNMENTS || k == CACHE_ROUTED_NUMBERS;
}

/* One per-epoch result and what it was built from. `entries` maps a topic
 * view's address (partitions or records) in `snapshot` to a frozen Ruby
 * [Kat::Topic, value] pair. */
typedef struct cache {
    kat_snapshot_t *snapshot;
    st_table *entries;
    uint64_t epoch;
    uint64_t routes_version; /* of the routes it was built with */
    VALUE result; /* frozen Hash, or Qnil before the first build */
    int busy;
    /* The snapshot the last rebuild replaced: freed by the next event this
     * gem records (so the reader that rebuilt does not pay for freeing it),
     * or by the next rebuild. */
    kat_snapshot_t *retired;
    /* While a rebuild runs: the new snapshot and table, freed on error. */
    kat_snapshot_t *next_snapshot;
    st_table *next_entries;
} cache;

typedef struct tracker {
    kat_tracker_t *ptr;
    int owned;
    cache caches[CACHE_KINDS];
    VALUE routes; /* the Karafka drop-in's routing topics, or Qnil */
    uint64_t routes_version;
    int waiting;  /* threads in wait_for_change (without the GVL) */
    int closed;   /* #close was called; ptr is freed once nobody waits */
} tracker;

static int mark_entry(st_data_t key, st_data_t value, st_data_t arg) {
    (void)key;
    (void)arg;
    rb_gc_mark((VALUE)value);
    return ST_CONTINUE;
}

static void tracker_mark(void *p) {
    tracker *t = p;
    rb_gc_mark(t->routes);
    for (int k = 0; k < CACHE_KINDS; k++) {
        cache *c = &t->caches[k];
        rb_gc_mark(c->result);
        if (c->entries) st_foreach(c->entries, mark_entry, 0);
        if (c->next_entries) st_foreach(c->next_entries, mark_entry, 0);
    }
}

static void cache_release(cache *c) {
    if (c->snapshot) kat_snapshot_free(c->snapshot);
    if (c->entries) st_free_table(c->entries);
    if (c->next_snapshot) kat_snapshot_free(c->next_snapshot);
    if (c->next_entries) st_free_table(c->next_entries);
    if (c->retired) kat_snapshot_free(c->retired);
    c->retired = NULL;
    c->snapshot = c->next_snapshot = NULL;
    c->entries = c->next_entries = NULL;
    c->result = Qnil;
}

static void tracker_free(void *p) {
    tracker *t = p;
    for (int k = 0; k < CACHE_KINDS; k++) cache_release(&t->caches[k]);
    if (t->owned && t->ptr) kat_tracker_free(t->ptr);
    xfree(t);
}

static size_t tracker_memsize(const void *p) {
    const tracker *t = p;
    size_t n = sizeof *t;
    for (int k = 0; k < CACHE_KINDS; k++) {
        if (t->caches[k].entries) n += st_memsize(t->caches[k].entries);
    }
    return n;
}

static const rb_data_type_t tracker_type = {
    .wrap_struct_name = "Kat::Tracker",
    .function = {.dmark = tracker_mark, .dfree = tracker_free, .dsize = tracker_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static VALUE tracker_alloc(VALUE klass) {
    tracker *t;
    VALUE obj = TypedData_Make_Struct(klass, tracker, &tracker_type, t);
    for (int k = 0; k < CACHE_KINDS; k++) {
        t->caches[k].result = Qnil;
    }
    t->routes = Qnil;
    return obj;
}

static tracker *get_tracker(VALUE self) {
    tracker *t = rb_check_typeddata(self, &tracker_type);
    if (t->closed) raise_code(KAT_ERR_INVALID_ARGUMENT, rb_str_new_cstr("the tracker is closed"));
    if (t->ptr == NULL) rb_raise(eError, "the tracker is not initialized");
    return t;
}

/* Frees the snapshots rebuilds replaced (called by events, after libkat
 * recorded them: the writer pays for freeing what it superseded). */
static void release_retired(tracker *t) {
    for (int k = 0; k < CACHE_KINDS; k++) {
        kat_snapshot_t *r = t->caches[k].retired;
        t->caches[k].retired = NULL;
        if (r) kat_snapshot_free(r);
    }
}

/* ------------------------------------------------------------- the group */

typedef struct group {
    kat_group_t *ptr;
    VALUE name;
    VALUE tracker;
} group;

static void group_mark(void *p) {
    group *g = p;
    rb_gc_mark(g->name);
    rb_gc_mark(g->tracker);
}

static void group_free(void *p) {
    group *g = p;
    kat_group_free(g->ptr);
    xfree(g);
}

static size_t group_memsize(const void *p) {
    (void)p;
    return sizeof(group);
}

static const rb_data_type_t group_type = {
    .wrap_struct_name = "Kat::Group",
    .function = {.dmark = group_mark, .dfree = group_free, .dsize = group_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static VALUE group_alloc(VALUE klass) {
    group *g;
    VALUE obj = TypedData_Make_Struct(klass, group, &group_type, g);
    g->name = Qnil;
    g->tracker = Qnil;
    return obj;
}

static group *get_group(VALUE self) {
    group *g = rb_check_typeddata(self, &group_type);
    if (g->ptr == NULL) {
        raise_code(KAT_ERR_INVALID_ARGUMENT, rb_sprintf("group %" PRIsVALUE " is closed", g->name));
    }
    return g;
}

/* ------------------------------------------------------------ the handle */

typedef struct handle {
    kat_partition_handle_t *ptr;
    VALUE group;
    VALUE topic;
    int32_t partition;
} handle;

static void handle_mark(void *p) {
    handle *h = p;
    rb_gc_mark(h->group);
    rb_gc_mark(h->topic);
}

static void handle_free(void *p) {
    handle *h = p;
    kat_partition_handle_free(h->ptr);
    xfree(h);
}

static size_t handle_memsize(const void *p) {
    (void)p;
    return sizeof(handle);
}

static const rb_data_type_t handle_type = {
    .wrap_struct_name = "Kat::Partition",
    .function = {.dmark = handle_mark, .dfree = handle_free, .dsize = handle_memsize},
    .flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static VALUE handle_alloc(VALUE klass) {
    handle *h;
    VALUE obj = TypedData_Make_Struct(klass, handle, &handle_type, h);
    h->group = Qnil;
    h->topic = Qnil;
    return obj;
}

static handle *live_handle(VALUE self) {
    handle *h = rb_check_typeddata(self, &handle_type);
    if (h->ptr == NULL) {
        raise_code(KAT_ERR_INVALID_ARGUMENT,
                   rb_sprintf("partition handle %" PRIsVALUE "/%" PRIsVALUE "/%d is closed", h->group,
                              h->topic, (int)h->partition));
    }
    return h;
}

/* ====================================================== Kat::Tracker */

static VALUE tracker_s_global(VALUE klass) {
    VALUE obj = tracker_alloc(klass);
    tracker *t = DATA_PTR(obj);
    t->ptr = kat_tracker_global();
    t->owned = 0;
    return obj;
}

/* @api private: initialize with a limit (Ruby's #initialize checks it). */
static VALUE tracker_native_init(VALUE self, VALUE limit) {
    tracker *t = rb_check_typeddata(self, &tracker_type);
    if (t->ptr != NULL) rb_raise(eError, "the tracker is already initialized");
    kat_tracker_t *out = NULL;
    CHECK_KAT(kat_tracker_new_with_limit(NUM2SIZET(limit), &out), NULL);
    t->ptr = out;
    t->owned = 1;
    return self;
}

static VALUE tracker_global_p(VALUE self) {
    return get_tracker(self)->owned ? Qfalse : Qtrue;
}

/* @api private: a new Kat::Group for `name` (String or Symbol). */
static VALUE tracker_make_group(VALUE self, VALUE name) {
    tracker *t = get_tracker(self);
    VALUE s = group_arg(name);
    kat_group_t *out = NULL;
    CHECK_KAT(kat_tracker_group_n(t->ptr, RSTRING_PTR(s), (size_t)RSTRING_LEN(s), &out), NULL);
    VALUE obj = group_alloc(cGroup);
    group *g = DATA_PTR(obj);
    g->ptr = out;
    g->name = rb_str_to_interned_str(s);
    g->tracker = self;
    return obj;
}

static VALUE tracker_epoch(VALUE self) {
    uint64_t e = 0;
    CHECK_KAT(kat_tracker_epoch(get_tracker(self)->ptr, &e), NULL);
    return ULL2NUM(e);
}

static VALUE tracker_generation(VALUE self, VALUE g, VALUE topic, VALUE partition) {
    tracker *t = get_tracker(self);
    VALUE gs = group_arg(g);
    VALUE ts = topic_arg(topic);
    int32_t p = partition_arg(partition, Qnil);
    uint64_t gen = 0;
    CHECK_KAT(kat_tracker_generation_n(t->ptr, RSTRING_PTR(gs), (size_t)RSTRING_LEN(gs), RSTRING_PTR(ts),
                                       (size_t)RSTRING_LEN(ts), p, &gen),
              NULL);
    RB_GC_GUARD(gs);
    RB_GC_GUARD(ts);
    return ULL2NUM(gen);
}

static VALUE tracker_assigned_p(VALUE self, VALUE g, VALUE topic, VALUE partition) {
    tracker *t = get_tracker(self);
    VALUE gs = group_arg(g);
    VALUE ts = topic_arg(topic);
    int32_t p = partition_arg(partition, Qnil);
    bool assigned = false;
    CHECK_KAT(kat_tracker_is_assigned_n(t->ptr, RSTRING_PTR(gs), (size_t)RSTRING_LEN(gs), RSTRING_PTR(ts),
                                        (size_t)RSTRING_LEN(ts), p, &assigned),
              NULL);
    RB_GC_GUARD(gs);
    RB_GC_GUARD(ts);
    return assigned ? Qtrue : Qfalse;
}

static VALUE tracker_clear(VALUE self) {
    CHECK_KAT(kat_tracker_clear(get_tracker(self)->ptr), NULL);
    return self;
}

typedef struct wait_args {
    const kat_tracker_t *t;
    uint64_t epoch;
    uint64_t ms;
    uint64_t out;
    kat_result rc;
} wait_args;

static void *wait_without_gvl(void *p) {
    wait_args *a = p;
    a->rc = kat_tracker_wait_for_change(a->t, a->epoch, a->ms, &a->out);
    return NULL;
}

/* @api private: waits up to `ms` milliseconds (Ruby checks the arguments),
 * in slices of at most 100 ms so Thread#raise and #kill get through. */
static VALUE tracker_native_wait(VALUE self, VALUE epoch, VALUE ms) {
    tracker *t = get_tracker(self);
    uint64_t e = NUM2ULL(epoch);
    uint64_t left = NUM2ULL(ms);
    for (;;) {
        wait_args a = {t->ptr, e, left < 100 ? left : 100, e, KAT_OK};
        t->waiting++;
        rb_thread_call_without_gvl(wait_without_gvl, &a, RUBY_UBF_IO, NULL);
        t->waiting--;
        if (t->closed && t->waiting == 0 && t->owned) {
            kat_tracker_free(t->ptr);
            t->ptr = NULL;
        }
        if (a.rc != KAT_OK) raise_kat(a.rc, NULL);
        if (a.out != e || left <= 100) return ULL2NUM(a.out);
        left -= 100;
        get_tracker(self); /* closed meanwhile: raise */
        rb_thread_check_ints();
    }
}

/* Frees the native tracker now. Idempotent; later calls on it raise
 * Kat::InvalidArgument. Groups and handles taken from it stay valid. On
 * Kat.tracker (the process-wide one, shared) it does nothing. */
static VALUE tracker_close(VALUE self) {
    tracker *t = rb_check_typeddata(self, &tracker_type);
    if (t->closed || !t->owned) return Qnil;
    t->closed = 1;
    for (int k = 0; k < CACHE_KINDS; k++) {
        if (!t->caches[k].busy) cache_release(&t->caches[k]);
    }
    if (t->owned && t->waiting == 0 && t->ptr) {
        kat_tracker_free(t->ptr);
        t->ptr = NULL;
    }
    return Qnil;
}

static VALUE tracker_closed_p(VALUE self) {
    return ((tracker *)rb_check_typeddata(self, &tracker_type))->closed ? Qtrue : Qfalse;
}

/* @api private (Group#close): frees the native group handle. Idempotent. */
static VALUE group_native_close(VALUE self) {
    group *g = rb_check_typeddata(self, &group_type);
    kat_group_t *p = g->ptr;
    g->ptr = NULL;
    kat_group_free(p);
    return Qnil;
}

static VALUE group_closed_p(VALUE self) {
    return ((group *)rb_check_typeddata(self, &group_type))->ptr == NULL ? Qtrue : Qfalse;
}

static VALUE tracker_limit(VALUE self) {
    size_t n = 0;
    CHECK_KAT(kat_tracker_generations_topics_limit(get_tracker(self)->ptr, &n), NULL);
    return SIZET2NUM(n);
}

static VALUE tracker_set_limit_native(VALUE self, VALUE limit) {
    CHECK_KAT(kat_tracker_set_generations_topics_limit(get_tracker(self)->ptr, NUM2SIZET(limit)), NULL);
    return limit;
}

/* JSON through a caller buffer, snprintf-style. */
static VALUE json_string(kat_result (*fn)(const void *, char *, size_t, size_t *), const void *obj) {
    size_t len = 0;
    CHECK_KAT(fn(obj, NULL, 0, &len), NULL);
    VALUE str = rb_str_buf_new((long)len + 1);
    CHECK_KAT(fn(obj, RSTRING_PTR(str), len + 1, &len), NULL);
    rb_str_set_len(str, (long)len);
    rb_enc_associate_index(str, enc_utf8);
    return str;
}

static kat_result snapshot_json(const void *s, char *buf, size_t cap, size_t *len) {
    return kat_snapshot_to_json(s, buf, cap, len);
}

static kat_result generations_json(const void *g, char *buf, size_t cap, size_t *len) {
    return kat_generations_to_json(g, buf, cap, len);
}

static VALUE free_snapshot(VALUE p) {
    kat_snapshot_free((kat_snapshot_t *)p);
    return Qnil;
}

static VALUE snapshot_json_body(VALUE p) {
    return json_string(snapshot_json, (const void *)p);
}

static VALUE tracker_to_json(int argc, VALUE *argv, VALUE self) {
    (void)argc;
    (void)argv;
    kat_snapshot_t *s = NULL;
    CHECK_KAT(kat_tracker_snapshot(get_tracker(self)->ptr, &s), NULL);
    return rb_ensure(snapshot_json_body, (VALUE)s, free_snapshot, (VALUE)s);
}

static VALUE free_generations(VALUE p) {
    kat_generations_free((kat_generations_t *)p);
    return Qnil;
}

static VALUE generations_json_body(VALUE p) {
    return json_string(generations_json, (const void *)p);
}

static VALUE tracker_generations_json(VALUE self) {
    kat_generations_t *g = NULL;
    CHECK_KAT(kat_tracker_generations(get_tracker(self)->ptr, &g), NULL);
    return rb_ensure(generations_json_body, (VALUE)g, free_generations, (VALUE)g);
}

/* @api private: [epoch, groups, partitions] of one snapshot, for #inspect. */
static VALUE tracker_summary(VALUE self) {
    kat_snapshot_t *s = NULL;
    CHECK_KAT(kat_tracker_snapshot(get_tracker(self)->ptr, &s), NULL);
    uint64_t e = 0;
    size_t groups = 0, parts = 0;
    kat_snapshot_epoch(s, &e);
    kat_snapshot_group_count(s, &groups);
    kat_snapshot_partition_count(s, &parts);
    kat_snapshot_free(s);
    return rb_ary_new_from_args(3, ULL2NUM(e), SIZET2NUM(groups), SIZET2NUM(parts));
}

/* ---- building assignments / generations from one snapshot ---- */

typedef struct build {
    tracker *t;
    enum cache_kind kind;
    kat_snapshot_t *snap;
    st_table *previous; /* may be NULL */
    st_table *next;     /* may be NULL: no caching */
    VALUE result;
} build;

/* The frozen value of one topic: sorted partitions (assignments), partition
 * => Kat::PartitionState (generations) or partition => Integer (numbers). */
static VALUE topic_value(build *b, size_t gi, size_t ti, const kat_topic_view_t *tv, size_t count) {
    if (!kind_has_records(b->kind)) {
        VALUE tmp = 0;
        VALUE *values = RB_ALLOCV_N(VALUE, tmp, tv->partition_count);
        for (size_t i = 0; i < tv->partition_count; i++) values[i] = INT2FIX(tv->partitions[i].partition);
        VALUE arr = rb_ary_new_from_values((long)tv->partition_count, values);
        RB_ALLOCV_END(tmp);
        return rb_obj_freeze(arr);
    }
    /* A buffer of this build's own: builds on other threads may interleave. */
    VALUE tmp = 0;
    kat_partition_record_t *recs = RB_ALLOCV_N(kat_partition_record_t, tmp, count ? count : 1);
    size_t n = 0;
    kat_result rc = kat_snapshot_known_topic_records(b->snap, gi, ti, recs, count, &n);
    if (rc != KAT_OK) {
        RB_ALLOCV_END(tmp);
        raise_kat(rc, NULL);
    }
    VALUE h = rb_hash_new();
    for (size_t i = 0; i < n; i++) {
        VALUE v = b->kind == CACHE_GENERATIONS ? make_state(recs[i].generation, recs[i].status)
                                               : ULL2NUM(recs[i].generation);
        rb_hash_aset(h, INT2FIX(recs[i].partition), v);
    }
    RB_ALLOCV_END(tmp);
    return rb_obj_freeze(h);
}

static VALUE build_body(VALUE arg) {
    build *b = (build *)arg;
    size_t groups = 0;
    CHECK_KAT(kat_snapshot_group_count(b->snap, &groups), NULL);
    for (size_t gi = 0; gi < groups; gi++) {
        kat_group_view_t gv;
        CHECK_KAT(kat_snapshot_group(b->snap, gi, &gv), NULL);
        VALUE gname = Qnil;
        VALUE group_routes = Qnil;
        if (kind_is_routed(b->kind)) {
            /* Only the drop-in's groups; others are skipped whole. */
            gname = interned(gv.name, gv.name_len);
            group_routes = rb_hash_lookup2(b->t->routes, gname, Qnil);
            if (!RB_TYPE_P(group_routes, T_HASH)) continue;
        }
        size_t topics = gv.topic_count;
        if (kind_has_records(b->kind)) CHECK_KAT(kat_snapshot_known_topic_count(b->snap, gi, &topics), NULL);
        for (size_t ti = 0; ti < topics; ti++) {
            kat_topic_view_t tv = {0};
            size_t count = 0;
            const void *id;
            const char *tname;
            size_t tlen;
            if (!kind_has_records(b->kind)) {
                CHECK_KAT(kat_snapshot_topic(b->snap, gi, ti, &tv), NULL);
                id = tv.partitions;
                tname = tv.name;
                tlen = tv.name_len;
            } else {
                kat_known_topic_view_t kv;
                CHECK_KAT(kat_snapshot_known_topic(b->snap, gi, ti, &kv), NULL);
                id = kv.records_id;
                tname = kv.name;
                tlen = kv.name_len;
                count = kv.record_count;
            }
            st_data_t found;
            VALUE entry;
            if (b->previous && st_lookup(b->previous, (st_data_t)id, &found)) {
                entry = (VALUE)found;
            } else {
                if (NIL_P(gname)) gname = interned(gv.name, gv.name_len);
                VALUE key = kind_is_routed(b->kind) ? rb_hash_lookup2(group_routes, interned(tname, tlen), Qnil)
                                                    : make_topic(gname, interned(tname, tlen));
                VALUE value = topic_value(b, gi, ti, &tv, count);
                entry = rb_ary_new_from_args(2, key, value);
                rb_obj_freeze(entry);
            }
            if (b->next) st_insert(b->next, (st_data_t)id, (st_data_t)entry);
            VALUE key = RARRAY_AREF(entry, 0);
            if (!NIL_P(key)) rb_hash_aset(b->result, key, RARRAY_AREF(entry, 1));
        }
    }
    return rb_obj_freeze(b->result);
}

/* Without the cache (another thread is rebuilding it): from scratch. */
static VALUE build_uncached(tracker *t, enum cache_kind kind) {
    kat_snapshot_t *s = NULL;
    CHECK_KAT(kat_tracker_snapshot(t->ptr, &s), NULL);
    build b = {t, kind, s, NULL, NULL, rb_hash_new()};
    VALUE result = rb_ensure(build_body, (VALUE)&b, free_snapshot, (VALUE)s);
    RB_GC_GUARD(b.result);
    return result;
}

typedef struct rebuild {
    tracker *t;
    cache *c;
    enum cache_kind kind;
} rebuild;

static VALUE rebuild_body(VALUE arg) {
    rebuild *r = (rebuild *)arg;
    cache *c = r->c;
    CHECK_KAT(kat_tracker_snapshot(r->t->ptr, &c->next_snapshot), NULL);
    uint64_t epoch = 0;
    CHECK_KAT(kat_snapshot_epoch(c->next_snapshot, &epoch), NULL);
    uint64_t version = r->t->routes_version;
    if (!NIL_P(c->result) && epoch == c->epoch && version == c->routes_version) {
        /* Nothing changed since the cached build (the epoch moved back and
         * forth between our two reads is impossible: it only grows). */
        return c->result;
    }
    c->next_entries = st_init_numtable();
    /* Entries of other routes map topics to other routing topics: unusable. */
    st_table *previous = version == c->routes_version ? c->entries : NULL;
    build b = {r->t, r->kind, c->next_snapshot, previous, c->next_entries, rb_hash_new()};
    VALUE result = build_body((VALUE)&b);
    /* Commit: no Ruby code runs from here on. */
    if (c->retired) kat_snapshot_free(c->retired);
    c->retired = c->snapshot;
    if (c->entries) st_free_table(c->entries);
    c->snapshot = c->next_snapshot;
    c->entries = c->next_entries;
    c->next_snapshot = NULL;
    c->next_entries = NULL;
    c->epoch = epoch;
    c->routes_version = version;
    c->result = result;
    RB_GC_GUARD(b.result);
    return result;
}

static VALUE rebuild_ensure(VALUE arg) {
    rebuild *r = (rebuild *)arg;
    cache *c = r->c;
    if (c->next_snapshot) kat_snapshot_free(c->next_snapshot);
    if (c->next_entries) st_free_table(c->next_entries);
    c->next_snapshot = NULL;
    c->next_entries = NULL;
    c->busy = 0;
    return Qnil;
}

static VALUE cached(VALUE self, enum cache_kind kind) {
    tracker *t = get_tracker(self);
    cache *c = &t->caches[kind];
    uint64_t epoch = 0;
    CHECK_KAT(kat_tracker_epoch(t->ptr, &epoch), NULL);
    if (!NIL_P(c->result) && c->epoch == epoch && c->routes_version == t->routes_version) return c->result;
    if (kind_is_routed(kind) && !RB_TYPE_P(t->routes, T_HASH)) return rb_obj_freeze(rb_hash_new());
    if (c->busy) return build_uncached(t, kind);
    c->busy = 1;
    rebuild r = {t, c, kind};
    return rb_ensure(rebuild_body, (VALUE)&r, rebuild_ensure, (VALUE)&r);
}

static VALUE tracker_assignments(VALUE self) {
    return cached(self, CACHE_ASSIGNMENTS);
}

static VALUE tracker_generations(VALUE self) {
    return cached(self, CACHE_GENERATIONS);
}

/* @api private: Kat::Topic => { partition => Integer } (Karafka's shape). */
static VALUE tracker_generation_numbers(VALUE self) {
    return cached(self, CACHE_NUMBERS);
}

/* @api private: the Karafka drop-in's routing topics, a Hash of kat group
 * name => { topic name => routing topic } the drop-in keeps up to date;
 * call again after every change to it (cached results are rebuilt). */
static VALUE tracker_set_routes(VALUE self, VALUE routes) {
    tracker *t = get_tracker(self);
    if (!NIL_P(routes)) Check_Type(routes, T_HASH);
    t->routes = routes;
    t->routes_version++;
    return routes;
}

/* @api private: routing topic => sorted partitions (Karafka's `current`). */
static VALUE tracker_routed_assignments(VALUE self) {
    return cached(self, CACHE_ROUTED_ASSIGNMENTS);
}

/* @api private: routing topic => { partition => generation }. */
static VALUE tracker_routed_numbers(VALUE self) {
    return cached(self, CACHE_ROUTED_NUMBERS);
}

/* ========================================================= Kat::Topic */

/* Kat::Topic#hash and #eql? in C: Struct's own go through a recursion guard
 * that costs more than the rest of a Hash lookup. */
static st_index_t member_hash(VALUE v) {
    return RB_TYPE_P(v, T_STRING) ? (st_index_t)rb_str_hash(v) : (st_index_t)NUM2LONG(rb_hash(v));
}

static VALUE topic_hash(VALUE self) {
    st_index_t h = rb_hash_start((st_index_t)0x6b6174);
    h = rb_hash_uint(h, member_hash(RSTRUCT_GET(self, 0)));
    h = rb_hash_uint(h, member_hash(RSTRUCT_GET(self, 1)));
    return ST2FIX(rb_hash_end(h));
}

static VALUE topic_eql(VALUE self, VALUE other) {
    if (self == other) return Qtrue;
    if (rb_obj_class(other) != rb_obj_class(self)) return Qfalse;
    return rb_eql(RSTRUCT_GET(self, 0), RSTRUCT_GET(other, 0)) &&
                   rb_eql(RSTRUCT_GET(self, 1), RSTRUCT_GET(other, 1))
               ? Qtrue
               : Qfalse;
}

/* ========================================================= Kat::Group */

static VALUE group_name(VALUE self) {
    return ((group *)rb_check_typeddata(self, &group_type))->name;
}

static VALUE group_tracker(VALUE self) {
    return ((group *)rb_check_typeddata(self, &group_type))->tracker;
}

static VALUE group_generation(VALUE self, VALUE topic, VALUE partition) {
    group *g = get_group(self);
    VALUE ts = topic_arg(topic);
    int32_t p = partition_arg(partition, Qnil);
    uint64_t gen = 0;
    CHECK_KAT(kat_group_generation_n(g->ptr, RSTRING_PTR(ts), (size_t)RSTRING_LEN(ts), p, &gen), NULL);
    RB_GC_GUARD(ts);
    return ULL2NUM(gen);
}

static VALUE group_assigned_p(VALUE self, VALUE topic, VALUE partition) {
    group *g = get_group(self);
    VALUE ts = topic_arg(topic);
    int32_t p = partition_arg(partition, Qnil);
    bool a = false;
    CHECK_KAT(kat_group_is_assigned_n(g->ptr, RSTRING_PTR(ts), (size_t)RSTRING_LEN(ts), p, &a), NULL);
    RB_GC_GUARD(ts);
    return a ? Qtrue : Qfalse;
}

static VALUE group_partition(VALUE self, VALUE topic, VALUE partition) {
    group *g = get_group(self);
    VALUE ts = topic_arg(topic);
    int32_t p = partition_arg(partition, Qnil);
    VALUE obj = handle_alloc(cPartition);
    handle *h = DATA_PTR(obj);
    kat_partition_handle_t *out = NULL;
    CHECK_KAT(kat_group_partition_n(g->ptr, RSTRING_PTR(ts), (size_t)RSTRING_LEN(ts), p, &out), NULL);
    h->ptr = out;
    h->group = g->name;
    h->topic = rb_str_to_interned_str(ts);
    h->partition = p;
    return obj;
}

static VALUE group_lost(VALUE self) {
    CHECK_KAT(kat_group_lost(get_group(self)->ptr), NULL);
    return self;
}

static VALUE group_reset(VALUE self) {
    CHECK_KAT(kat_group_reset(get_group(self)->ptr), NULL);
    return self;
}

static VALUE group_stats(VALUE self) {
    kat_group_stats_t s;
    CHECK_KAT(kat_group_stats(get_group(self)->ptr, &s), NULL);
    VALUE args[6] = {ULL2NUM(s.assigned_events), ULL2NUM(s.revoked_events), ULL2NUM(s.lost_events),
                     ULL2NUM(s.reset_events), ULL2NUM(s.last_change_unix_ms), ULL2NUM(s.glue_failures)};
    return rb_class_new_instance(6, args, cGroupStats);
}

/* ---- monitoring (README "Monitoring") ---- */

/* Text through a caller buffer whose needed size can grow between two calls
 * (metrics: a rebalance, or a clock second): sized, copied with headroom,
 * and copied again with the size libkat reported if it grew meanwhile. */
typedef kat_result (*text_fn)(const void *obj, const void *arg, char *buf, size_t cap, size_t *len);

static VALUE text_out(text_fn fn, const void *obj, const void *arg) {
    size_t len = 0;
    CHECK_KAT(fn(obj, arg, NULL, 0, &len), NULL);
    for (int attempt = 0;; attempt++) {
        size_t cap = len + 1 + 256;
        VALUE str = rb_str_buf_new((long)cap);
        kat_result rc = fn(obj, arg, RSTRING_PTR(str), cap, &len);
        if (rc == KAT_OK) {
            rb_str_set_len(str, (long)len);
            rb_enc_associate_index(str, enc_utf8);
            return str;
        }
        if (rc != KAT_ERR_BUFFER_TOO_SMALL || attempt >= 8) raise_kat(rc, NULL);
    }
}

static kat_result metrics_text(const void *t, const void *format, char *buf, size_t cap, size_t *len) {
    return kat_tracker_metrics(t, *(const unsigned *)format, buf, cap, len);
}

/* @api private (Tracker#metrics checks the format): the exposition text. */
static VALUE tracker_metrics_native(VALUE self, VALUE format) {
    unsigned f = NUM2UINT(format);
    return text_out(metrics_text, get_tracker(self)->ptr, &f);
}

/* @api private: the HTTP Content-Type of a format number, or nil. */
static VALUE kat_metrics_content_type_native(VALUE self, VALUE format) {
    (void)self;
    const char *ct = kat_metrics_content_type(NUM2UINT(format));
    return ct ? rb_str_freeze(rb_utf8_str_new_cstr(ct)) : Qnil;
}

static VALUE tracker_history_limit(VALUE self) {
    size_t n = 0;
    CHECK_KAT(kat_tracker_history_limit(get_tracker(self)->ptr, &n), NULL);
    return SIZET2NUM(n);
}

/* @api private (Tracker#history_limit= checks the value). */
static VALUE tracker_set_history_limit_native(VALUE self, VALUE limit) {
    CHECK_KAT(kat_tracker_set_history_limit(get_tracker(self)->ptr, NUM2SIZET(limit)), NULL);
    return limit;
}

#define HEALTH_STATES 6
static VALUE health_symbols[HEALTH_STATES];

static VALUE health_symbol(kat_health h) {
    if ((unsigned)h < HEALTH_STATES) return health_symbols[h];
    const char *name = kat_health_name((unsigned)h);
    return name ? ID2SYM(rb_intern(name)) : INT2FIX((int)h);
}

/* The group's health as a Symbol: one wait-free read in libkat. */
static VALUE group_health(VALUE self) {
    kat_group_health_t h;
    CHECK_KAT(kat_group_health(get_group(self)->ptr, &h), NULL);
    return health_symbol(h.health);
}

/* @api private (Group#health_info): [Symbol, since_unix_ms] of one read. */
static VALUE group_health_native(VALUE self) {
    kat_group_health_t h;
    CHECK_KAT(kat_group_health(get_group(self)->ptr, &h), NULL);
    return rb_ary_new_from_args(2, health_symbol(h.health), ULL2NUM(h.since_unix_ms));
}

static kat_result history_text(const void *g, const void *unused, char *buf, size_t cap, size_t *len) {
    (void)unused;
    return kat_group_history_json(g, buf, cap, len);
}

/* The group's rebalance history as JSON (an array, oldest first). */
static VALUE group_history_json(VALUE self) {
    return text_out(history_text, get_group(self)->ptr, NULL);
}

/* @api private (Group#stall_after= checks the value): milliseconds, 0 = off. */
static VALUE group_set_stall_after_ms(VALUE self, VALUE ms) {
    CHECK_KAT(kat_group_set_stall_after_ms(get_group(self)->ptr, NUM2ULL(ms)), NULL);
    return ms;
}

/* @api private (Group#note_rebalance_protocol checks the Symbol). */
static VALUE group_note_protocol_native(VALUE self, VALUE cooperative) {
    CHECK_KAT(kat_group_note_rebalance_protocol(get_group(self)->ptr, RTEST(cooperative)), NULL);
    return self;
}

/* Records in the group's history a rebalance that could not be applied
 * (kind :error with `detail`), without changing the tracker. */
static VALUE group_note_rebalance_error(VALUE self, VALUE detail) {
    group *g = get_group(self);
    if (!RB_TYPE_P(detail, T_STRING)) {
        raise_code(KAT_ERR_INVALID_ARGUMENT,
                   rb_sprintf("rebalance error detail must be a String, got %" PRIsVALUE, rb_obj_class(detail)));
    }
    if (memchr(RSTRING_PTR(detail), '\0', (size_t)RSTRING_LEN(detail)) != NULL) {
        raise_code(KAT_ERR_INVALID_ARGUMENT, rb_str_new_cstr("rebalance error detail contains a NUL byte"));
    }
    VALUE s = rb_str_new_frozen(rb_str_new(RSTRING_PTR(detail), RSTRING_LEN(detail))); /* NUL-terminated */
    CHECK_KAT(kat_group_note_rebalance_error(g->ptr, RSTRING_PTR(s)), NULL);
    RB_GC_GUARD(s);
    return self;
}

/* ---- ownership that ends on time (README) ---- */

/* Records that the group's consumer polled now (lock-free; not an event). */
static VALUE group_mark_poll(VALUE self) {
    CHECK_KAT(kat_group_mark_poll(get_group(self)->ptr), NULL);
    return self;
}

/* @api private (Group#set_poll_deadline checks the values): milliseconds. */
static VALUE group_set_poll_deadline_native(VALUE self, VALUE interval_ms, VALUE margin_ms) {
    CHECK_KAT(kat_group_set_poll_deadline(get_group(self)->ptr, NUM2ULL(interval_ms), NUM2ULL(margin_ms)), NULL);
    return self;
}

/* @api private (Group#poll_stats): [deadline_ms, polls, since_last_poll_us
 * (nil: never), expirations, last_expiry_delay_us]. */
static VALUE group_poll_stats_native(VALUE self) {
    kat_poll_stats_t st;
    CHECK_KAT(kat_group_poll_stats(get_group(self)->ptr, &st), NULL);
    VALUE since = st.since_last_poll_us == UINT64_MAX ? Qnil : ULL2NUM(st.since_last_poll_us);
    return rb_ary_new_from_args(5, ULL2NUM(st.deadline_ms), ULL2NUM(st.polls), since, ULL2NUM(st.expirations),
                                ULL2NUM(st.last_expiry_delay_us));
}

/* @api private (Partition#token): [generation, broker_generation, owned]. */
static VALUE handle_token_native(VALUE self) {
    kat_fencing_token_t tok;
    CHECK_KAT(kat_partition_handle_token(live_handle(self)->ptr, &tok), NULL);
    return rb_ary_new_from_args(3, ULL2NUM(tok.generation), INT2NUM(tok.broker_generation), tok.owned ? Qtrue : Qfalse);
}

/* A generation argument as uint64; `ok` cleared when it is not one (such a
 * generation is never owned). */
static uint64_t generation_or_invalid(VALUE generation, int *ok) {
    *ok = 1;
    if (FIXNUM_P(generation)) {
        long g = FIX2LONG(generation);
        if (g >= 0) return (uint64_t)g;
    } else if (RB_INTEGER_TYPE_P(generation) && rb_big_sign(generation) != 0 && rb_absint_size(generation, NULL) <= 8) {
        return rb_big2ull(generation);
    }
    *ok = 0;
    return 0;
}

/* Takes a lease at `generation`; true if taken (release it once with
 * #lease_release), false if the partition is not assigned at exactly that
 * generation. Lock-free. */
static VALUE handle_lease_acquire(VALUE self, VALUE generation) {
    handle *h = live_handle(self);
    int ok;
    uint64_t g = generation_or_invalid(generation, &ok);
    if (!ok) return Qfalse;
    return kat_partition_handle_lease_acquire(h->ptr, g) ? Qtrue : Qfalse;
}

/* Releases one lease taken with #lease_acquire; Kat::InvalidArgument if none
 * is held on the key. */
static VALUE handle_lease_release(VALUE self) {
    CHECK_KAT(kat_partition_handle_lease_release(live_handle(self)->ptr), NULL);
    return self;
}

/* Whether work under a lease taken at `generation` may still act. */
static VALUE handle_lease_valid_p(VALUE self, VALUE generation) {
    handle *h = live_handle(self);
    int ok;
    uint64_t g = generation_or_invalid(generation, &ok);
    if (!ok) return Qfalse;
    return kat_partition_handle_lease_valid(h->ptr, g) ? Qtrue : Qfalse;
}

static VALUE stats_json_arg(VALUE json) {
    if (!RB_TYPE_P(json, T_STRING)) {
        raise_code(KAT_ERR_INVALID_ARGUMENT,
                   rb_sprintf("librdkafka statistics must be a JSON String or a Hash, got %" PRIsVALUE, rb_obj_class(json)));
    }
    return json;
}

/* @api private (Group#rdkafka_stats): hands kat librdkafka's statistics
 * JSON; kat keeps its cgrp fields for the metrics. Malformed JSON raises
 * Kat::InvalidArgument (invalid UTF-8: Kat::InvalidUtf8) and changes
 * nothing. */
static VALUE group_rdkafka_stats(VALUE self, VALUE json) {
    group *g = get_group(self);
    VALUE s = stats_json_arg(json);
    CHECK_KAT(kat_group_rdkafka_stats(g->ptr, RSTRING_PTR(s), (size_t)RSTRING_LEN(s)), NULL);
    RB_GC_GUARD(s);
    return self;
}

typedef struct strip_args {
    const char *json;
    size_t len;
} strip_args;

static kat_result strip_text(const void *g, const void *arg, char *buf, size_t cap, size_t *len) {
    const strip_args *a = arg;
    return kat_group_rdkafka_stats_strip(g, a->json, a->len, buf, cap, len);
}

/* @api private (Group#strip_rdkafka_stats): librdkafka's statistics JSON
 * without the partitions this group does not own now (a new String). */
static VALUE group_strip_rdkafka_stats(VALUE self, VALUE json) {
    group *g = get_group(self);
    VALUE s = rb_str_new_frozen(stats_json_arg(json));
    strip_args a = {RSTRING_PTR(s), (size_t)RSTRING_LEN(s)};
    VALUE out = text_out(strip_text, g->ptr, &a);
    RB_GC_GUARD(s);
    return out;
}

static kat_result cgrp_text(const void *g, const void *unused, char *buf, size_t cap, size_t *len) {
    (void)unused;
    return kat_group_rdkafka_cgrp_json(g, buf, cap, len);
}

/* The cgrp fields of the last statistics handed over, as JSON ("null" if
 * none). */
static VALUE group_rdkafka_cgrp_json(VALUE self) {
    return text_out(cgrp_text, get_group(self)->ptr, NULL);
}

/* ---- events ---- */

enum event_kind { EV_ASSIGNED, EV_REVOKED, EV_REPLACE };

typedef struct collect {
    group *g;
    VALUE topics; /* Ruby Array: topic String, partitions Array, topic String, ... */
    size_t count;
    int nil_is_empty; /* lists from #to_h (rdkafka-ruby): nil = no partitions */
} collect;

/* The partitions of one topic as an Array (of Integers or objects with
 * #partition), checked for shape. */
static VALUE partitions_array(VALUE partitions, VALUE topic, int nil_is_empty) {
    if (RB_TYPE_P(partitions, T_ARRAY)) return partitions;
    if (NIL_P(partitions) && nil_is_empty) return rb_ary_new();
    if (rb_obj_is_kind_of(partitions, rb_cRange)) return rb_funcall(partitions, id_to_a, 0);
    raise_code(KAT_ERR_INVALID_LIST,
               rb_sprintf("partitions of topic %" PRIsVALUE " must be an Array or Range of Integers, got %" PRIsVALUE,
                          rb_inspect(topic), rb_obj_class(partitions)));
    return Qnil;
}

static int collect_topic(VALUE topic, VALUE partitions, VALUE arg) {
    collect *c = (collect *)arg;
    VALUE name = topic_arg(topic);
    if (memchr(RSTRING_PTR(name), '\0', (size_t)RSTRING_LEN(name)) != NULL) {
        raise_code(KAT_ERR_INVALID_TOPIC,
                   rb_sprintf("topic name contains a NUL byte: %" PRIsVALUE, short_inspect(name)));
    }
    VALUE list = partitions_array(partitions, name, c->nil_is_empty);
    /* The pairs array needs the name NUL-terminated and unchanged during
     * the call: Hash keys are frozen (usually NUL-terminated) already;
     * anything else is copied. */
    if (!OBJ_FROZEN(name) || RSTRING_PTR(name)[RSTRING_LEN(name)] != '\0') {
        name = rb_str_new_frozen(rb_str_new(RSTRING_PTR(name), RSTRING_LEN(name)));
    }
    rb_ary_push(c->topics, name);
    rb_ary_push(c->topics, list);
    c->count += (size_t)RARRAY_LEN(list);
    return ST_CONTINUE;
}

/* After libkat refused a list because of a topic name: libkat's check of
 * each name alone, so the error names the caller's topic (not an index into
 * the flattened list). */
static void raise_for_topic(group *g, VALUE topics, kat_result rc) {
    /* The list's own detail first: a successful call clears it. */
    char detail[1024];
    size_t len = kat_last_error_message(detail, sizeof detail);
    if (len >= sizeof detail) len = sizeof detail - 1;
    detail[len] = '\0';
    for (long i = 0; i < RARRAY_LEN(topics); i += 2) {
        VALUE name = RARRAY_AREF(topics, i);
        uint64_t unused = 0;
        kat_result r = kat_group_generation_n(g->ptr, RSTRING_PTR(name), (size_t)RSTRING_LEN(name), 0, &unused);
        if (r != KAT_OK) raise_kat(r, NULL);
    }
    raise_code(rc, rb_utf8_str_new_cstr(len ? detail : kat_result_message((unsigned)rc)));
}

/* The #partition of an object standing for a partition (rdkafka-ruby's
 * Partition, or any object or Struct with #partition; one method lookup),
 * or `e` itself for anything else, such as a String, whose #partition means
 * something else. */
static VALUE partition_of(VALUE e) {
    if (RB_SPECIAL_CONST_P(e)) return e;
    int type = BUILTIN_TYPE(e);
    if (type != T_OBJECT && type != T_STRUCT && type != T_DATA) return e;
    VALUE p = rb_check_funcall(e, id_partition, 0, NULL);
    return p == Qundef ? e : p;
}

static VALUE group_event(VALUE self, VALUE assignment, enum event_kind kind) {
    group *g = get_group(self);
    collect c = {g, rb_ary_new(), 0, 0};
    if (!RB_TYPE_P(assignment, T_HASH)) {
        if (RB_TYPE_P(assignment, T_ARRAY) || !rb_respond_to(assignment, id_to_h)) {
            raise_code(KAT_ERR_INVALID_LIST,
                       rb_sprintf("assignment must be a Hash of topic => partitions (or a TopicPartitionList), got %" PRIsVALUE,
                                  rb_obj_class(assignment)));
        }
        assignment = rb_funcall(assignment, id_to_h, 0);
        Check_Type(assignment, T_HASH);
        c.nil_is_empty = 1;
    }
    rb_hash_foreach(assignment, collect_topic, (VALUE)&c);

    /* Pass 1 (may run Ruby code: #partition of partition objects): every
     * element checked, lists that are not all partition numbers replaced by
     * a copy that is. */
    size_t total = 0;
    for (long i = 0; i + 1 < RARRAY_LEN(c.topics); i += 2) {
        VALUE name = RARRAY_AREF(c.topics, i);
        VALUE list = RARRAY_AREF(c.topics, i + 1);
        long len = RARRAY_LEN(list);
        long j = 0;
        while (j < len && partition_or_neg(RARRAY_AREF(list, j)) >= 0) j++;
        if (j < len) {
            VALUE numbers = rb_ary_new_capa(len);
            for (long k = 0; k < RARRAY_LEN(list); k++) {
                VALUE e = rb_ary_entry(list, k);
                if (partition_or_neg(e) < 0) e = partition_of(e);
                rb_ary_push(numbers, INT2FIX(partition_arg(e, name)));
            }
            rb_ary_store(c.topics, i + 1, numbers);
            list = numbers;
        }
        total += (size_t)RARRAY_LEN(list);
    }
    /* Pass 2 (no Ruby code from here to the call: string pointers stay put
     * and the group cannot be closed meanwhile). */
    g = get_group(self);
    VALUE tmp = 0;
    kat_topic_partition_t small[32];
    kat_topic_partition_t *items = small;
    if (total > 32) {
        items = (kat_topic_partition_t *)rb_alloc_tmp_buffer2(&tmp, (long)total, sizeof(kat_topic_partition_t));
    }
    size_t n = 0;
    for (long i = 0; i + 1 < RARRAY_LEN(c.topics); i += 2) {
        const char *cname = RSTRING_PTR(RARRAY_AREF(c.topics, i));
        VALUE list = RARRAY_AREF(c.topics, i + 1);
        for (long j = 0; j < RARRAY_LEN(list) && n < total; j++) {
            int32_t p = partition_or_neg(RARRAY_AREF(list, j));
            if (p < 0) {
                /* Only if another thread changed a caller's list meanwhile. */
                if (tmp) rb_free_tmp_buffer(&tmp);
                raise_code(KAT_ERR_INVALID_LIST, rb_str_new_cstr("a partition list changed during the event"));
            }
            items[n].topic = cname;
            items[n].partition = p;
            n++;
        }
    }
    kat_result rc;
    switch (kind) {
    case EV_ASSIGNED: rc = kat_group_assigned_pairs(g->ptr, items, n); break;
    case EV_REVOKED: rc = kat_group_revoked_pairs(g->ptr, items, n); break;
    default: rc = kat_group_replace_pairs(g->ptr, items, n); break;
    }
    if (tmp) rb_free_tmp_buffer(&tmp);
    RB_GC_GUARD(c.topics);
    if (rb_typeddata_is_kind_of(g->tracker, &tracker_type)) release_retired(DATA_PTR(g->tracker));
    if (rc == KAT_ERR_INVALID_TOPIC || rc == KAT_ERR_INVALID_LIST) raise_for_topic(g, c.topics, rc);
    if (rc != KAT_OK) raise_kat(rc, NULL);
    return self;
}

static VALUE group_assigned(VALUE self, VALUE a) {
    return group_event(self, a, EV_ASSIGNED);
}

static VALUE group_revoked(VALUE self, VALUE a) {
    return group_event(self, a, EV_REVOKED);
}

static VALUE group_replace(VALUE self, VALUE a) {
    return group_event(self, a, EV_REPLACE);
}

/* An rd_kafka_topic_partition_list_t * given as an FFI::Pointer (anything
 * with #address, as an FFI rebalance callback receives it). Plain Integers
 * are refused: an address typed by hand is too easy to get wrong. */
static const struct rd_kafka_topic_partition_list_s *native_list(VALUE list) {
    if (RB_INTEGER_TYPE_P(list) || !rb_respond_to(list, id_address)) {
        raise_code(KAT_ERR_INVALID_LIST,
                   rb_sprintf("expected an FFI::Pointer to an rd_kafka_topic_partition_list_t, got %" PRIsVALUE,
                              rb_obj_class(list)));
    }
    VALUE addr = rb_funcall(list, id_address, 0);
    return (const struct rd_kafka_topic_partition_list_s *)(uintptr_t)NUM2ULL(addr);
}

static VALUE group_assigned_native(VALUE self, VALUE list) {
    CHECK_KAT(kat_group_assigned(get_group(self)->ptr, native_list(list)), NULL);
    return self;
}

static VALUE group_revoked_native(VALUE self, VALUE list) {
    CHECK_KAT(kat_group_revoked(get_group(self)->ptr, native_list(list)), NULL);
    return self;
}

static VALUE group_replace_native(VALUE self, VALUE list) {
    CHECK_KAT(kat_group_replace(get_group(self)->ptr, native_list(list)), NULL);
    return self;
}

/* ===================================================== Kat::Partition */

static VALUE handle_group(VALUE self) {
    return ((handle *)rb_check_typeddata(self, &handle_type))->group;
}

static VALUE handle_topic(VALUE self) {
    return ((handle *)rb_check_typeddata(self, &handle_type))->topic;
}

static VALUE handle_partition(VALUE self) {
    return INT2FIX(((handle *)rb_check_typeddata(self, &handle_type))->partition);
}

static VALUE handle_state(VALUE self) {
    kat_partition_state_t s;
    CHECK_KAT(kat_partition_handle_state(live_handle(self)->ptr, &s), NULL);
    return make_state(s.generation, s.status);
}

static VALUE handle_generation(VALUE self) {
    kat_partition_state_t s;
    CHECK_KAT(kat_partition_handle_state(live_handle(self)->ptr, &s), NULL);
    return ULL2NUM(s.generation);
}

static VALUE handle_assigned_p(VALUE self) {
    kat_partition_state_t s;
    CHECK_KAT(kat_partition_handle_state(live_handle(self)->ptr, &s), NULL);
    return s.assigned ? Qtrue : Qfalse;
}

static VALUE handle_owned_at_p(VALUE self, VALUE generation) {
    handle *h = live_handle(self);
    if (FIXNUM_P(generation)) {
        long g = FIX2LONG(generation);
        if (g < 0) return Qfalse;
        return kat_partition_handle_owned_at(h->ptr, (uint64_t)g) ? Qtrue : Qfalse;
    }
    if (!RB_INTEGER_TYPE_P(generation) || rb_big_sign(generation) == 0) return Qfalse;
    if (rb_absint_size(generation, NULL) > 8) return Qfalse;
    return kat_partition_handle_owned_at(h->ptr, rb_big2ull(generation)) ? Qtrue : Qfalse;
}

static VALUE handle_close(VALUE self) {
    handle *h = rb_check_typeddata(self, &handle_type);
    kat_partition_handle_t *p = h->ptr;
    h->ptr = NULL;
    kat_partition_handle_free(p);
    return Qnil;
}

static VALUE handle_closed_p(VALUE self) {
    return ((handle *)rb_check_typeddata(self, &handle_type))->ptr == NULL ? Qtrue : Qfalse;
}

/* ============================= Kat::Karafka::AssignmentsTracker#generation */

/* Karafka's `generation(topic, partition)`: 0 for anything it would answer
 * with 0 (a partition never assigned, a negative or non-Integer partition, a
 * topic that is not a routing topic seen in an event), never an error. The
 * routing topic is found by identity in @routes (routing topic =>
 * [Kat::Group, topic name]); topics not there go to the Ruby fallback. */
static VALUE karafka_generation(VALUE self, VALUE topic, VALUE partition) {
    VALUE routes = rb_ivar_get(self, id_routes);
    VALUE entry = RB_TYPE_P(routes, T_HASH) ? rb_hash_lookup2(routes, topic, Qundef) : Qundef;
    if (entry == Qundef) return rb_funcall(self, id_generation_of_unknown, 2, topic, partition);
    int32_t p = partition_or_neg(partition);
    if (p < 0) return INT2FIX(0);
    group *g = rb_check_typeddata(RARRAY_AREF(entry, 0), &group_type);
    if (g->ptr == NULL) return INT2FIX(0);
    VALUE name = RARRAY_AREF(entry, 1);
    uint64_t gen = 0;
    if (kat_group_generation_n(g->ptr, RSTRING_PTR(name), (size_t)RSTRING_LEN(name), p, &gen) != KAT_OK) {
        return INT2FIX(0);
    }
    return ULL2NUM(gen);
}

/* The Karafka drop-in's rebalance notifications in one native call:
 * event[:subscription_group] and event[:tpl], the routing topic of every name
 * found in @resolved (subscription group => { name => routing topic }; names
 * not there yet go through the Ruby #register, which calls Topics#find),
 * the kat group from @groups_by_sg, then the event. */
static VALUE karafka_event(VALUE self, VALUE event, enum event_kind kind) {
    VALUE sg, tpl;
    if (RB_TYPE_P(event, T_HASH)) {
        sg = rb_hash_aref(event, sym_subscription_group);
        tpl = rb_hash_aref(event, sym_tpl);
    } else {
        sg = rb_funcall(event, id_aref, 1, sym_subscription_group);
        tpl = rb_funcall(event, id_aref, 1, sym_tpl);
    }
    VALUE list = RB_TYPE_P(tpl, T_HASH) ? tpl : rb_funcall(tpl, id_to_h, 0);
    Check_Type(list, T_HASH);
    VALUE resolved = rb_ivar_get(self, id_resolved);
    VALUE known = RB_TYPE_P(resolved, T_HASH) ? rb_hash_lookup2(resolved, sg, Qnil) : Qnil;
    VALUE names = rb_funcall(list, id_keys, 0);
    for (long i = 0; i < RARRAY_LEN(names); i++) {
        VALUE name = RARRAY_AREF(names, i);
        if (!RB_TYPE_P(known, T_HASH) || rb_hash_lookup2(known, name, Qundef) == Qundef) {
            rb_funcall(self, id_register, 2, sg, name);
            known = rb_hash_lookup2(rb_ivar_get(self, id_resolved), sg, Qnil);
        }
    }
    VALUE groups = rb_ivar_get(self, id_groups_by_sg);
    VALUE group = RB_TYPE_P(groups, T_HASH) ? rb_hash_lookup2(groups, sg, Qnil) : Qnil;
    if (NIL_P(group)) group = rb_funcall(self, id_group_for, 1, sg);
    return group_event(group, list, kind);
}

static VALUE karafka_assigned(VALUE self, VALUE event) {
    karafka_event(self, event, EV_ASSIGNED);
    return Qnil;
}

static VALUE karafka_revoked(VALUE self, VALUE event) {
    karafka_event(self, event, EV_REVOKED);
    return Qnil;
}

/* ================================================================ Init */

static VALUE kat_native_version(VALUE self) {
    (void)self;
    return rb_str_new_cstr(kat_version());
}

RUBY_FUNC_EXPORTED void Init_kat_ext(void) {
    id_new = rb_intern("new");
    id_aref = rb_intern("[]");
    id_keys = rb_intern("keys");
    id_resolved = rb_intern("@resolved");
    id_register = rb_intern("register");
    id_groups_by_sg = rb_intern("@groups_by_sg");
    id_group_for = rb_intern("group_for");
    sym_subscription_group = ID2SYM(rb_intern("subscription_group"));
    sym_tpl = ID2SYM(rb_intern("tpl"));
    id_partition = rb_intern("partition");
    id_to_h = rb_intern("to_h");
    id_to_a = rb_intern("to_a");
    id_address = rb_intern("address");
    id_code = rb_intern("@code");
    id_errors = rb_intern("ERRORS");
    id_routes = rb_intern("@routes");
    id_generation_of_unknown = rb_intern("generation_of_unknown");
    sym_assigned = ID2SYM(rb_intern("assigned"));
    sym_revoked = ID2SYM(rb_intern("revoked"));
    sym_lost = ID2SYM(rb_intern("lost"));
    sym_none = ID2SYM(rb_intern("none"));
    for (unsigned h = 0; h < HEALTH_STATES; h++) {
        const char *name = kat_health_name(h);
        health_symbols[h] = ID2SYM(rb_intern(name ? name : "unknown"));
    }
    enc_utf8 = rb_utf8_encindex();
    enc_ascii = rb_usascii_encindex();
    enc_binary = rb_ascii8bit_encindex();

    mKat = rb_define_module("Kat");
    eError = rb_const_get(mKat, rb_intern("Error"));
    cTopic = rb_const_get(mKat, rb_intern("Topic"));
    cPartitionState = rb_const_get(mKat, rb_intern("PartitionState"));
    cGroupStats = rb_const_get(mKat, rb_intern("GroupStats"));
    /* Kept in C statics: pinned, so GC.compact never moves them. */
    rb_gc_register_mark_object(eError);
    rb_gc_register_mark_object(cTopic);
    rb_gc_register_mark_object(cPartitionState);
    rb_gc_register_mark_object(cGroupStats);
    rb_define_singleton_method(mKat, "native_version", kat_native_version, 0);

    cTracker = rb_define_class_under(mKat, "Tracker", rb_cObject);
    rb_define_alloc_func(cTracker, tracker_alloc);
    rb_define_singleton_method(cTracker, "__global", tracker_s_global, 0);
    rb_define_private_method(cTracker, "__init", tracker_native_init, 1);
    rb_define_private_method(cTracker, "__make_group", tracker_make_group, 1);
    rb_define_private_method(cTracker, "__wait", tracker_native_wait, 2);
    rb_define_private_method(cTracker, "__set_limit", tracker_set_limit_native, 1);
    rb_define_private_method(cTracker, "__summary", tracker_summary, 0);
    rb_define_method(cTracker, "global?", tracker_global_p, 0);
    rb_define_method(cTracker, "epoch", tracker_epoch, 0);
    rb_define_method(cTracker, "generation", tracker_generation, 3);
    rb_define_method(cTracker, "assigned?", tracker_assigned_p, 3);
    rb_define_method(cTracker, "clear", tracker_clear, 0);
    rb_define_method(cTracker, "assignments", tracker_assignments, 0);
    rb_define_method(cTracker, "generations", tracker_generations, 0);
    rb_define_method(cTracker, "generation_numbers", tracker_generation_numbers, 0);
    rb_define_method(cTracker, "__routes=", tracker_set_routes, 1);
    rb_define_method(cTracker, "__routed_assignments", tracker_routed_assignments, 0);
    rb_define_method(cTracker, "__routed_numbers", tracker_routed_numbers, 0);
    rb_define_method(cTopic, "hash", topic_hash, 0);
    rb_define_method(cTopic, "eql?", topic_eql, 1);
    rb_define_method(cTopic, "==", topic_eql, 1);
    rb_define_method(cTracker, "to_json", tracker_to_json, -1);
    rb_define_method(cTracker, "generations_json", tracker_generations_json, 0);
    rb_define_method(cTracker, "generations_topics_limit", tracker_limit, 0);
    rb_define_method(cTracker, "close", tracker_close, 0);
    rb_define_private_method(cTracker, "__metrics", tracker_metrics_native, 1);
    rb_define_method(cTracker, "history_limit", tracker_history_limit, 0);
    rb_define_private_method(cTracker, "__set_history_limit", tracker_set_history_limit_native, 1);
    rb_define_singleton_method(mKat, "__metrics_content_type", kat_metrics_content_type_native, 1);
    rb_define_method(cTracker, "closed?", tracker_closed_p, 0);

    cGroup = rb_define_class_under(mKat, "Group", rb_cObject);
    rb_undef_alloc_func(cGroup);
    rb_define_method(cGroup, "name", group_name, 0);
    rb_define_method(cGroup, "tracker", group_tracker, 0);
    rb_define_method(cGroup, "generation", group_generation, 2);
    rb_define_method(cGroup, "assigned?", group_assigned_p, 2);
    rb_define_method(cGroup, "partition", group_partition, 2);
    rb_define_method(cGroup, "assigned", group_assigned, 1);
    rb_define_method(cGroup, "revoked", group_revoked, 1);
    rb_define_method(cGroup, "replace", group_replace, 1);
    rb_define_method(cGroup, "lost", group_lost, 0);
    rb_define_method(cGroup, "reset", group_reset, 0);
    rb_define_method(cGroup, "stats", group_stats, 0);
    rb_define_method(cGroup, "health", group_health, 0);
    rb_define_method(cGroup, "mark_poll", group_mark_poll, 0);
    rb_define_private_method(cGroup, "__set_poll_deadline", group_set_poll_deadline_native, 2);
    rb_define_private_method(cGroup, "__poll_stats", group_poll_stats_native, 0);
    rb_define_private_method(cGroup, "__note_rebalance_protocol", group_note_protocol_native, 1);
    rb_define_method(cGroup, "note_rebalance_error", group_note_rebalance_error, 1);
    rb_define_private_method(cGroup, "__health", group_health_native, 0);
    rb_define_method(cGroup, "history_json", group_history_json, 0);
    rb_define_private_method(cGroup, "__set_stall_after_ms", group_set_stall_after_ms, 1);
    rb_define_private_method(cGroup, "__rdkafka_stats", group_rdkafka_stats, 1);
    rb_define_private_method(cGroup, "__strip_rdkafka_stats", group_strip_rdkafka_stats, 1);
    rb_define_method(cGroup, "rdkafka_cgrp_json", group_rdkafka_cgrp_json, 0);
    rb_define_private_method(cGroup, "__close", group_native_close, 0);
    rb_define_method(cGroup, "closed?", group_closed_p, 0);
    rb_define_method(cGroup, "assigned_native", group_assigned_native, 1);
    rb_define_method(cGroup, "revoked_native", group_revoked_native, 1);
    rb_define_method(cGroup, "replace_native", group_replace_native, 1);

    cPartition = rb_define_class_under(mKat, "Partition", rb_cObject);
    rb_undef_alloc_func(cPartition);
    rb_define_method(cPartition, "group", handle_group, 0);
    rb_define_method(cPartition, "topic", handle_topic, 0);
    rb_define_method(cPartition, "partition", handle_partition, 0);
    rb_define_method(cPartition, "state", handle_state, 0);
    rb_define_method(cPartition, "generation", handle_generation, 0);
    rb_define_method(cPartition, "assigned?", handle_assigned_p, 0);
    rb_define_method(cPartition, "owned_at?", handle_owned_at_p, 1);
    rb_define_private_method(cPartition, "__token", handle_token_native, 0);
    rb_define_method(cPartition, "lease_acquire", handle_lease_acquire, 1);
    rb_define_method(cPartition, "lease_release", handle_lease_release, 0);
    rb_define_method(cPartition, "lease_valid?", handle_lease_valid_p, 1);
    rb_define_method(cPartition, "close", handle_close, 0);
    rb_define_method(cPartition, "closed?", handle_closed_p, 0);

    mKarafka = rb_define_module_under(mKat, "Karafka");
    cKarafkaTracker = rb_define_class_under(mKarafka, "AssignmentsTracker", rb_cObject);
    rb_define_method(cKarafkaTracker, "generation", karafka_generation, 2);
    rb_define_method(cKarafkaTracker, "on_rebalance_partitions_assigned", karafka_assigned, 1);
    rb_define_method(cKarafkaTracker, "on_rebalance_partitions_revoked", karafka_revoked, 1);
}
