/* tlsdoctor._lightpath: the established connections' packets of a classic pcap or pcapng, read in C.
 *
 * Theory of operation. The engine (engine.py) puts a connection on its cheap path ("light") once its
 * handshake is settled: from then on a packet without SYN, FIN or RST whose TTL and MAC addresses are
 * the ones last seen costs only counters (packets, payload bytes, last IP-ID, last frame and time).
 * This module keeps those counters for the light IPv4 flows in a C hash table (``LightTable``), and reads
 * the captures' records, consuming every record that is such a packet of a registered flow; a consumed
 * record costs no Python object at all. ``LightTable.records`` is an iterator over the fast zone of a
 * classic pcap buffer (all of it but the last MAX_CAPLEN bytes and a record header) that yields every
 * other record as the Python reader's frame tuple: for the bulk of a classic pcap the frames reach the
 * engine with no Python code run between them. ``LightTable.pcapng_records`` is the same iterator over the
 * Enhanced Packet Blocks of a pcapng section: it stops at the first block the Python reader must read
 * (another block type, one not well framed, a clock that needs big integers), which reads it and hands
 * the blocks after it to a new iterator (pcapng.py ``PcapngParser._pieces``).
 *
 * The engine stays the owner of the facts: it registers a flow when it goes light (``add``), takes the
 * counters back before it reads or writes them (``pull``), tells the table of a new TTL or MAC pair
 * (``set_path``) and drops the flow when its record is made (``discard``). The engine keeps house
 * before every frame whose number is a multiple of 1024 (engine.HOUSEKEEPING_MASK): this module never
 * consumes such a frame, so housekeeping runs at the same frames as without this module, and the
 * output is the same byte for byte (tests/unit/test_compiled.py compares the builds;
 * tests/unit/test_lightpath.py tests the table). In a worker of a flow-sharded read (``set_shard``) it
 * also skips the frames of the other shards, which the engine would skip (CaptureAnalyzer.analyze).
 *
 * The conditions for consuming a record are exactly those of engine.CaptureAnalyzer.analyze's inlined
 * fast path (Ethernet, IPv4 with a 20-byte header, TCP, not a fragment) and its light branch. Anything
 * else is for the engine. A record the Python reader must look at carefully (a captured length above the
 * cap, a sub-second field out of range; a pcapng block not well framed) ends the iterator: the Python
 * reader reads it, then hands the records after it to a new iterator (pcap.py ``PcapParser._pieces``,
 * pcapng.py ``PcapngParser._pieces``).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#define KEY_LEN 12
#define MAC_LEN 12

enum { SLOT_EMPTY = 0, SLOT_USED = 1, SLOT_DELETED = 2 };

typedef struct {
    uint8_t key[KEY_LEN];   /* source IPv4, destination IPv4, source port, destination port */
    uint8_t mac[MAC_LEN];   /* destination then source MAC of the last packet */
    uint8_t state;
    uint8_t has_mac;
    uint8_t ttl;
    uint8_t dirty;          /* a record was consumed since the last pull */
    uint16_t ip_id;
    uint64_t packets;       /* consumed since the last pull */
    uint64_t payload;
    uint64_t last_frame;
    int64_t last_ts;
} Entry;

typedef struct {
    PyObject_HEAD
    Entry *slots;
    Py_ssize_t cap;         /* a power of two */
    Py_ssize_t used;        /* SLOT_USED */
    Py_ssize_t filled;      /* SLOT_USED + SLOT_DELETED */
    unsigned long long last_number;
    unsigned long long consumed;
    unsigned long long skipped;
    long shard;             /* with jobs > 1: only this flow shard's frames reach the engine */
    long jobs;
} LightTable;

#define HOUSEKEEPING_MASK 1023ULL    /* engine.HOUSEKEEPING_MASK: those frames are left to the engine */
#define SHARD_PRIME 2147483647ULL  /* net/decode.SHARD_PRIME */
#define SHARD_MIX 0x2545F491ULL     /* net/decode.SHARD_MIX */

/* net/decode.flow_shard of an Ethernet + IPv4 + TCP frame: the 4-tuple in the same order both ways,
   read as a big-endian integer modulo SHARD_PRIME, times SHARD_MIX, its bits from 29 up modulo jobs. */
static inline long frame_shard(const uint8_t *b, long jobs) {
    uint8_t a[6], z[6];
    memcpy(a, b + 26, 4);
    memcpy(a + 4, b + 34, 2);
    memcpy(z, b + 30, 4);
    memcpy(z + 4, b + 36, 2);
    const uint8_t *first = a, *second = z;
    if (memcmp(a, z, 6) > 0) {
        first = z;
        second = a;
    }
    uint64_t h = 0;
    for (int i = 0; i < 6; i++)
        h = (h * 256 + first[i]) % SHARD_PRIME;
    for (int i = 0; i < 6; i++)
        h = (h * 256 + second[i]) % SHARD_PRIME;
    return (long)(((h * SHARD_MIX) >> 29) % (uint64_t)jobs);
}

/* A frame (at least 54 captured bytes) of another worker's flow shard: flow_shard's own test. */
static inline int foreign(LightTable *t, const uint8_t *b) {
    return t->jobs > 1 && b[12] == 8 && b[13] == 0 && b[14] == 0x45 && b[23] == 6
        && frame_shard(b, t->jobs) != t->shard;
}

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline uint32_t rd32(const uint8_t *p, int big) {
    return big ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]
               : ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static inline uint64_t hash_key(const uint8_t *k) {
    uint64_t a, b;
    uint32_t c;
    memcpy(&a, k, 4);
    a &= 0xffffffffULL;
    memcpy(&c, k + 4, 4);
    b = c;
    memcpy(&c, k + 8, 4);
    uint64_t h = (a << 32 | b) * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)c * 0xC2B2AE3D27D4EB4FULL);
    return h ^ (h >> 29);
}

/* The slot holding ``key``, or NULL. */
static Entry *find(LightTable *t, const uint8_t *key) {
    size_t mask = (size_t)t->cap - 1;
    size_t i = (size_t)hash_key(key) & mask;
    for (;;) {
        Entry *e = &t->slots[i];
        if (e->state == SLOT_EMPTY)
            return NULL;
        if (e->state == SLOT_USED && memcmp(e->key, key, KEY_LEN) == 0)
            return e;
        i = (i + 1) & mask;
    }
}

static int resize(LightTable *t, Py_ssize_t cap) {
    Entry *old = t->slots;
    Py_ssize_t old_cap = t->cap;
    Entry *slots = PyMem_Calloc((size_t)cap, sizeof(Entry));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->slots = slots;
    t->cap = cap;
    t->filled = t->used;
    size_t mask = (size_t)cap - 1;
    for (Py_ssize_t j = 0; j < old_cap; j++) {
        if (old[j].state != SLOT_USED)
            continue;
        size_t i = (size_t)hash_key(old[j].key) & mask;
        while (slots[i].state != SLOT_EMPTY)
            i = (i + 1) & mask;
        slots[i] = old[j];
    }
    PyMem_Free(old);
    return 0;
}

static int key_arg(PyObject *obj, const uint8_t **key) {
    if (!PyBytes_Check(obj) || PyBytes_GET_SIZE(obj) != KEY_LEN) {
        PyErr_SetString(PyExc_ValueError, "a flow key is 12 bytes (two IPv4 addresses and two ports)");
        return -1;
    }
    *key = (const uint8_t *)PyBytes_AS_STRING(obj);
    return 0;
}

/* ttl, and mac (12 bytes or None) into the entry. */
static int set_path(Entry *e, int ttl, PyObject *mac) {
    if (ttl < 0 || ttl > 255) {
        e->ttl = 0;
        e->has_mac = 0;  /* never matches: every packet of this flow goes to the engine */
        return 0;
    }
    e->ttl = (uint8_t)ttl;
    if (mac == Py_None) {
        e->has_mac = 0;
        return 0;
    }
    if (!PyBytes_Check(mac) || PyBytes_GET_SIZE(mac) != MAC_LEN) {
        PyErr_SetString(PyExc_ValueError, "mac is 12 bytes (destination, source) or None");
        return -1;
    }
    memcpy(e->mac, PyBytes_AS_STRING(mac), MAC_LEN);
    e->has_mac = 1;
    return 0;
}

static PyObject *LightTable_add(LightTable *t, PyObject *args) {
    PyObject *keyobj, *mac;
    int ttl;
    const uint8_t *key;
    if (!PyArg_ParseTuple(args, "OiO:add", &keyobj, &ttl, &mac) || key_arg(keyobj, &key) < 0)
        return NULL;
    Entry *e = find(t, key);
    if (e == NULL) {
        if ((t->filled + 1) * 2 > t->cap && resize(t, t->used * 4 > t->cap ? t->cap * 2 : t->cap) < 0)
            return NULL;
        size_t mask = (size_t)t->cap - 1;
        size_t i = (size_t)hash_key(key) & mask;
        while (t->slots[i].state == SLOT_USED)
            i = (i + 1) & mask;
        e = &t->slots[i];
        if (e->state == SLOT_EMPTY)
            t->filled++;
        t->used++;
        memset(e, 0, sizeof(Entry));
        memcpy(e->key, key, KEY_LEN);
        e->state = SLOT_USED;
    } else {
        e->packets = e->payload = 0;
        e->dirty = 0;
    }
    if (set_path(e, ttl, mac) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *LightTable_set_path(LightTable *t, PyObject *args) {
    PyObject *keyobj, *mac;
    int ttl;
    const uint8_t *key;
    if (!PyArg_ParseTuple(args, "OiO:set_path", &keyobj, &ttl, &mac) || key_arg(keyobj, &key) < 0)
        return NULL;
    Entry *e = find(t, key);
    if (e != NULL && set_path(e, ttl, mac) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *LightTable_discard(LightTable *t, PyObject *keyobj) {
    const uint8_t *key;
    if (key_arg(keyobj, &key) < 0)
        return NULL;
    Entry *e = find(t, key);
    if (e != NULL) {
        e->state = SLOT_DELETED;
        t->used--;
    }
    Py_RETURN_NONE;
}

/* (packets, payload bytes, last IP-ID, last frame, its time in ns) consumed since the last pull, and
   reset; None when nothing was. */
static PyObject *LightTable_pull(LightTable *t, PyObject *keyobj) {
    const uint8_t *key;
    if (key_arg(keyobj, &key) < 0)
        return NULL;
    Entry *e = find(t, key);
    if (e == NULL || !e->dirty)
        Py_RETURN_NONE;
    PyObject *out = Py_BuildValue("(KKiKL)", (unsigned long long)e->packets, (unsigned long long)e->payload,
                                  (int)e->ip_id, (unsigned long long)e->last_frame, (long long)e->last_ts);
    if (out == NULL)
        return NULL;
    e->packets = e->payload = 0;
    e->dirty = 0;
    return out;
}

/* The frame at ``b`` (at least 54 captured bytes of Ethernet) as packet ``number`` at ``ts``: when it is a
   plain packet of a light flow on its last TTL and MAC pair, count it (what the engine's light branch
   does) and return 1; otherwise return 0 and change nothing. */
static inline int consume(LightTable *t, const uint8_t *b, size_t mask, unsigned long long number, int64_t ts) {
    if (b[12] != 8 || b[13] != 0 || b[14] != 0x45 || b[23] != 6 || (be16(b + 20) & 0x3FFF))
        return 0;
    uint16_t offflags = be16(b + 46);
    if (offflags & 7)  /* FIN, SYN or RST */
        return 0;
    const uint8_t *key = b + 26;
    size_t i = (size_t)hash_key(key) & mask;
    Entry *e = NULL;
    for (;;) {
        Entry *s = &t->slots[i];
        if (s->state == SLOT_EMPTY)
            break;
        if (s->state == SLOT_USED && memcmp(s->key, key, KEY_LEN) == 0) {
            e = s;
            break;
        }
        i = (i + 1) & mask;
    }
    if (e == NULL || !e->has_mac || b[22] != e->ttl || memcmp(b, e->mac, MAC_LEN) != 0)
        return 0;
    e->packets++;
    long plen = (long)be16(b + 16) - 20 - (long)((offflags >> 12) * 4);
    if (plen > 0)
        e->payload += (uint64_t)plen;
    e->ip_id = be16(b + 18);
    e->last_frame = number;
    e->last_ts = ts;
    e->dirty = 1;
    t->last_number = number;
    t->consumed++;
    return 1;
}

/* The arguments of records: (buf, pos, end, number, linktype, big_endian, ns_per_unit, units_per_second,
   max_caplen). */
typedef struct {
    Py_ssize_t pos, end;
    unsigned long long number;
    long linktype;
    int big;
    long long ns_per_unit;
    unsigned long long units, max_caplen;
} RecordsArgs;

static int records_args(PyObject *const *args, Py_ssize_t nargs, RecordsArgs *a) {
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "records() takes 9 arguments");
        return -1;
    }
    a->pos = PyLong_AsSsize_t(args[1]);
    a->end = PyLong_AsSsize_t(args[2]);
    a->number = PyLong_AsUnsignedLongLong(args[3]);
    a->linktype = PyLong_AsLong(args[4]);
    a->big = PyObject_IsTrue(args[5]);
    a->ns_per_unit = PyLong_AsLongLong(args[6]);
    a->units = PyLong_AsUnsignedLongLong(args[7]);
    a->max_caplen = PyLong_AsUnsignedLongLong(args[8]);
    if (PyErr_Occurred())
        return -1;
    if (a->max_caplen > (1ULL << 30) || a->ns_per_unit < 0 || a->ns_per_unit > 1000000000LL) {
        PyErr_SetString(PyExc_ValueError, "max_caplen is at most 2**30, ns_per_unit at most 10**9");
        return -1;
    }
    return 0;
}

/* What becomes of a record of the fast zone (``step``). */
enum { STEP_CAREFUL, STEP_CONSUMED, STEP_YIELD };

/* The record at ``pos``, as frame ``number + 1``: STEP_CAREFUL when the Python reader must look at it
   carefully (a captured length above max_caplen, a sub-second field out of range); STEP_CONSUMED when
   it is another flow shard's frame (counted in the frame numbers only, as the engine skips it) or a
   plain packet of a light flow (counted, as the engine's light branch does); else STEP_YIELD, for the
   engine: a frame the table cannot take (``active`` false: no flow and no shards, or not Ethernet), a
   short one, every 1024th (engine.HOUSEKEEPING_MASK: housekeeping runs at the same frames as without
   this module), or any other. Its time and captured length are put in ``*ts`` and ``*caplen``. */
static inline int step(LightTable *t, const uint8_t *base, const RecordsArgs *a, Py_ssize_t pos,
                       unsigned long long number, int active, size_t mask, int64_t *ts, uint32_t *caplen) {
    const uint8_t *h = base + pos;
    uint32_t frac = rd32(h + 4, a->big);
    *caplen = rd32(h + 8, a->big);
    if (*caplen > a->max_caplen || frac >= a->units)
        return STEP_CAREFUL;
    *ts = (int64_t)rd32(h, a->big) * 1000000000LL + (int64_t)frac * a->ns_per_unit;
    if (!active || *caplen < 54 || ((number + 1) & HOUSEKEEPING_MASK) == 0)
        return STEP_YIELD;
    if (foreign(t, h + 16)) {
        t->skipped++;
        return STEP_CONSUMED;
    }
    return consume(t, h + 16, mask, number + 1, *ts) ? STEP_CONSUMED : STEP_YIELD;
}

/* Records starting before ``end`` may be read: ``end`` leaves room for a record of max_caplen bytes. */
static inline Py_ssize_t safe_end(const RecordsArgs *a, Py_ssize_t len) {
    if (a->pos < 0 || a->end > len - 16 - (Py_ssize_t)a->max_caplen)
        return a->pos;  /* misuse (a record starting before end could run past the buffer): read nothing */
    return a->end;
}

/* The reader of a classic pcap buffer's fast zone, as an iterator (``LightTable.records``): it consumes
   the records ``step`` says are consumed and yields every other record as the Python reader's frame
   tuple, (number, ts_ns, linktype, buf, offset, caplen, origlen), so that no Python code runs per frame
   between the file and the engine. It ends before ``end`` (the fast-zone limit) or at the first record
   the Python reader must look at carefully (a captured length above ``max_caplen``, a sub-second field
   out of range); ``pos`` and ``number`` then say where the Python reader goes on. It holds the buffer
   only while it runs. */
/* One pcapng interface's clock, as the Python reader keeps it: ts_ns = units * mul / div + offset. */
typedef struct {
    long linktype;
    uint64_t mul, div;
    int64_t offset;
    int usable;             /* held in 64 bits here: else its packets stay with the Python reader */
} Clock;

#define MAX_CLOCKS 64       /* a packet of a later interface of a section goes to the Python reader */

typedef struct {
    PyObject_HEAD
    LightTable *table;
    PyObject *buf;
    Py_buffer view;
    int has_view;
    RecordsArgs a;          /* a.pos and a.number move as it reads */
    PyObject *linktype_obj;
    int pcapng;             /* Enhanced Packet Blocks of a pcapng section, not classic pcap records */
    Py_ssize_t nif;
    Clock clocks[MAX_CLOCKS];
} Records;

static void records_release(Records *r) {
    if (r->has_view) {
        PyBuffer_Release(&r->view);
        r->has_view = 0;
    }
    Py_CLEAR(r->buf);
}

static void Records_dealloc(Records *r) {
    records_release(r);
    Py_XDECREF(r->table);
    Py_XDECREF(r->linktype_obj);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

/* The Enhanced Packet Block at ``pos``, as frame ``number + 1``: STEP_CAREFUL when the Python reader must
   read it (another block type, a block not well framed or not wholly before ``end``, a captured length
   above max_caplen, an interface not described or whose clock needs big integers, a time stamp beyond
   int64): exactly the blocks its own fast loop leaves to its careful path, and those it reads with big
   integers. Else STEP_CONSUMED or STEP_YIELD as for ``step``, with its time, captured length, block
   length and interface in ``*ts``, ``*caplen``, ``*blen`` and ``*iid``. */
static inline int step_pcapng(LightTable *t, const uint8_t *base, const Records *r, Py_ssize_t pos,
                              unsigned long long number, size_t mask, int64_t *ts, uint32_t *caplen,
                              uint32_t *blen, uint32_t *iid) {
    const RecordsArgs *a = &r->a;
    if (pos + 28 > a->end)
        return STEP_CAREFUL;
    const uint8_t *h = base + pos;
    int big = a->big;
    uint32_t btype = rd32(h, big);
    *blen = rd32(h + 4, big);
    *iid = rd32(h + 8, big);
    *caplen = rd32(h + 20, big);
    if (btype != 6 || (*blen & 3) || (uint64_t)*caplen + 32 > *blen || (Py_ssize_t)*blen > a->end - pos
        || *caplen > a->max_caplen || *iid >= (uint32_t)r->nif || !r->clocks[*iid].usable
        || rd32(h + *blen - 4, big) != *blen)
        return STEP_CAREFUL;
    const Clock *c = &r->clocks[*iid];
    unsigned __int128 units = ((unsigned __int128)rd32(h + 12, big) << 32) | rd32(h + 16, big);
    unsigned __int128 q = units * c->mul / c->div;
    if (q > (unsigned __int128)(1ULL << 62))
        return STEP_CAREFUL;  /* a time stamp beyond what int64 holds: the Python reader has big integers */
    *ts = (int64_t)q + c->offset;
    if (c->linktype != 1 || (t->used == 0 && t->jobs <= 1) || *caplen < 54
        || ((number + 1) & HOUSEKEEPING_MASK) == 0)
        return STEP_YIELD;
    if (foreign(t, h + 28)) {
        t->skipped++;
        return STEP_CONSUMED;
    }
    return consume(t, h + 28, mask, number + 1, *ts) ? STEP_CONSUMED : STEP_YIELD;
}

/* The frame tuple (number, ts_ns, linktype, buf, offset, caplen, origlen); a new reference to linktype. */
static PyObject *frame_tuple(Records *r, unsigned long long number, int64_t ts, PyObject *linktype, Py_ssize_t data,
                             uint32_t caplen, uint32_t origlen) {
    PyObject *out = PyTuple_New(7);
    if (out == NULL) {
        Py_DECREF(linktype);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 2, linktype);
    Py_INCREF(r->buf);
    PyTuple_SET_ITEM(out, 3, r->buf);
    PyObject *items[5] = {PyLong_FromUnsignedLongLong(number), PyLong_FromLongLong(ts), PyLong_FromSsize_t(data),
                          PyLong_FromUnsignedLong(caplen), PyLong_FromUnsignedLong(origlen)};
    static const int at[5] = {0, 1, 4, 5, 6};
    int failed = 0;
    for (int i = 0; i < 5; i++) {
        if (items[i] == NULL)
            failed = 1;
        else
            PyTuple_SET_ITEM(out, at[i], items[i]);
    }
    if (failed) {
        Py_DECREF(out);  /* its unset items are NULL, which tuple deallocation skips */
        return NULL;
    }
    return out;
}

static PyObject *Records_next_pcapng(Records *r) {
    LightTable *t = r->table;
    const uint8_t *base = (const uint8_t *)r->view.buf;
    size_t mask = (size_t)t->cap - 1;
    int64_t ts;
    uint32_t caplen, blen, iid;
    for (;;) {
        int what = step_pcapng(t, base, r, r->a.pos, r->a.number, mask, &ts, &caplen, &blen, &iid);
        if (what == STEP_CAREFUL)
            break;
        Py_ssize_t pos = r->a.pos;
        if (what == STEP_CONSUMED) {
            r->a.number++;
            r->a.pos += (Py_ssize_t)blen;
            continue;
        }
        PyObject *linktype = PyLong_FromLong(r->clocks[iid].linktype);
        if (linktype == NULL)
            return NULL;
        PyObject *out = frame_tuple(r, r->a.number + 1, ts, linktype, pos + 28, caplen,
                                    rd32(base + pos + 24, r->a.big));
        if (out != NULL) {
            r->a.number++;
            r->a.pos += (Py_ssize_t)blen;
        }
        return out;
    }
    records_release(r);
    return NULL;
}

static PyObject *Records_next(Records *r) {
    if (!r->has_view)
        return NULL;
    if (r->pcapng)
        return Records_next_pcapng(r);
    LightTable *t = r->table;
    RecordsArgs *a = &r->a;
    const uint8_t *base = (const uint8_t *)r->view.buf;
    int active = a->linktype == 1 && (t->used > 0 || t->jobs > 1);
    size_t mask = (size_t)t->cap - 1;
    int64_t ts;
    uint32_t caplen;
    while (a->pos < a->end) {
        int what = step(t, base, a, a->pos, a->number, active, mask, &ts, &caplen);
        if (what == STEP_CAREFUL)
            break;  /* the Python reader's careful path */
        if (what == STEP_CONSUMED) {
            a->number++;
            a->pos += 16 + (Py_ssize_t)caplen;
            continue;
        }
        const uint8_t *h = base + a->pos;
        Py_ssize_t data = a->pos + 16;
        Py_INCREF(r->linktype_obj);
        PyObject *out = frame_tuple(r, a->number + 1, ts, r->linktype_obj, data, caplen, rd32(h + 12, a->big));
        if (out != NULL) {
            a->number++;
            a->pos = data + (Py_ssize_t)caplen;
        }
        return out;
    }
    records_release(r);  /* done: the buffer is free again (an mmap can be closed) */
    return NULL;
}

static PyMemberDef Records_members[] = {
    {"pos", T_PYSSIZET, offsetof(Records, a.pos), READONLY, "The offset of the next record to read."},
    {"number", T_ULONGLONG, offsetof(Records, a.number), READONLY, "The number of the last record read."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject RecordsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tlsdoctor._lightpath.Records",
    .tp_basicsize = sizeof(Records),
    .tp_dealloc = (destructor)Records_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The records of a classic pcap buffer's fast zone, or the blocks of a pcapng section, that a LightTable "
               "does not consume.",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Records_next,
    .tp_members = Records_members,
};

/* A new Records of ``buf`` with the arguments ``a``, holding the buffer until it is exhausted; NULL with an
   exception. The caller fills in what its format needs. */
static Records *new_records(LightTable *t, PyObject *buf, const RecordsArgs *a, int pcapng) {
    Records *r = PyObject_New(Records, &RecordsType);
    if (r == NULL)
        return NULL;
    Py_INCREF(t);
    r->table = t;
    r->buf = NULL;
    r->has_view = 0;
    r->linktype_obj = NULL;
    r->pcapng = pcapng;
    r->nif = 0;
    r->a = *a;
    if (PyObject_GetBuffer(buf, &r->view, PyBUF_SIMPLE) < 0) {
        Py_DECREF(r);
        return NULL;
    }
    r->has_view = 1;
    Py_INCREF(buf);
    r->buf = buf;
    return r;
}

/* records(buf, pos, end, number, linktype, big_endian, ns_per_unit, units_per_second, max_caplen) -> Records:
   read the records of ``buf`` from ``pos`` (frame ``number + 1``) while each starts before ``end``, the
   Python reader's fast-zone limit (every record starting before it fits in the buffer when its captured
   length is at most ``max_caplen``; an ``end`` that does not leave that room reads nothing). */
static PyObject *LightTable_records(LightTable *t, PyObject *const *args, Py_ssize_t nargs) {
    RecordsArgs a;
    if (records_args(args, nargs, &a) < 0)
        return NULL;
    Records *r = new_records(t, args[0], &a, 0);
    if (r == NULL)
        return NULL;
    r->linktype_obj = PyLong_FromLong(a.linktype);
    if (r->linktype_obj == NULL) {
        Py_DECREF(r);
        return NULL;
    }
    r->a.end = safe_end(&a, r->view.len);
    return (PyObject *)r;
}

/* The Records of a pcapng section (``LightTable.pcapng_records``), from ``pos`` (frame ``number + 1``); the
   blocks must end by ``end``. ``clocks`` are the section's interfaces as the Python reader keeps them,
   (linktype, mul, div, offset_ns) by interface id: one that needs big integers, or after the first
   MAX_CLOCKS, leaves its packets to the Python reader. */
static PyObject *LightTable_pcapng_records(LightTable *t, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "pcapng_records() takes 7 arguments");
        return NULL;
    }
    if (!PyList_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "clocks is a list of (linktype, mul, div, offset_ns)");
        return NULL;
    }
    RecordsArgs a = {0};
    a.pos = PyLong_AsSsize_t(args[1]);
    a.end = PyLong_AsSsize_t(args[2]);
    a.number = PyLong_AsUnsignedLongLong(args[3]);
    a.big = PyObject_IsTrue(args[4]);
    a.max_caplen = PyLong_AsUnsignedLongLong(args[6]);
    if (PyErr_Occurred())
        return NULL;
    if (a.max_caplen > (1ULL << 30)) {
        PyErr_SetString(PyExc_ValueError, "max_caplen is at most 2**30");
        return NULL;
    }
    Records *r = new_records(t, args[0], &a, 1);
    if (r == NULL)
        return NULL;
    r->nif = PyList_GET_SIZE(args[5]);
    if (r->nif > MAX_CLOCKS)
        r->nif = MAX_CLOCKS;
    for (Py_ssize_t j = 0; j < r->nif; j++) {
        PyObject *c = PyList_GET_ITEM(args[5], j);
        r->clocks[j].usable = 0;
        if (!PyTuple_Check(c) || PyTuple_GET_SIZE(c) != 4)
            continue;
        long linktype = PyLong_AsLong(PyTuple_GET_ITEM(c, 0));
        unsigned long long mul = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(c, 1));
        unsigned long long div = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(c, 2));
        long long offset = PyLong_AsLongLong(PyTuple_GET_ITEM(c, 3));
        if (PyErr_Occurred()) {  /* beyond 64 bits */
            PyErr_Clear();
            continue;
        }
        if (div == 0 || mul > 1000000000ULL || offset < -(1LL << 62) || offset > (1LL << 62))
            continue;
        r->clocks[j] = (Clock){linktype, mul, div, offset, 1};
    }
    if (r->a.pos < 0 || r->a.end > r->view.len)
        r->a.end = r->a.pos;  /* misuse: read nothing */
    return (PyObject *)r;
}

static PyObject *LightTable_set_shard(LightTable *t, PyObject *args) {
    long shard, jobs;
    if (!PyArg_ParseTuple(args, "ll:set_shard", &shard, &jobs))
        return NULL;
    if (jobs < 1 || shard < 0 || shard >= jobs) {
        PyErr_SetString(PyExc_ValueError, "set_shard(shard, jobs) wants 0 <= shard < jobs");
        return NULL;
    }
    t->shard = shard;
    t->jobs = jobs;
    Py_RETURN_NONE;
}

static PyObject *LightTable_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "LightTable() takes no arguments");
        return NULL;
    }
    LightTable *t = (LightTable *)type->tp_alloc(type, 0);
    if (t == NULL)
        return NULL;
    t->cap = 1024;
    t->slots = PyMem_Calloc((size_t)t->cap, sizeof(Entry));
    if (t->slots == NULL) {
        Py_DECREF(t);
        return PyErr_NoMemory();
    }
    t->jobs = 1;
    return (PyObject *)t;
}

static void LightTable_dealloc(LightTable *t) {
    PyMem_Free(t->slots);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static Py_ssize_t LightTable_len(LightTable *t) { return t->used; }

static PyMethodDef LightTable_methods[] = {
    {"add", (PyCFunction)LightTable_add, METH_VARARGS,
     "add(key, ttl, mac): register a light flow with its last TTL and MAC pair (counters start at zero)."},
    {"set_path", (PyCFunction)LightTable_set_path, METH_VARARGS,
     "set_path(key, ttl, mac): the flow's last TTL and MAC pair changed (no-op for an unknown flow)."},
    {"discard", (PyCFunction)LightTable_discard, METH_O, "discard(key): forget the flow, if known."},
    {"pull", (PyCFunction)LightTable_pull, METH_O,
     "pull(key) -> (packets, payload_bytes, last_ip_id, last_frame, last_ts_ns) consumed since the last "
     "pull, then reset; None when nothing was consumed or the flow is unknown."},
    {"records", (PyCFunction)(void (*)(void))LightTable_records, METH_FASTCALL,
     "records(buf, pos, end, number, linktype, big_endian, ns_per_unit, units_per_second, max_caplen) -> "
     "an iterator of the frame tuples of the classic pcap records from pos that are not packets of light "
     "flows (those are consumed); its pos and number say where it stopped."},
    {"set_shard", (PyCFunction)LightTable_set_shard, METH_VARARGS,
     "set_shard(shard, jobs): skip the Ethernet + IPv4 + TCP frames of the other flow shards, in the frame "
     "numbers only (a worker of parallel.py)."},
    {"pcapng_records", (PyCFunction)(void (*)(void))LightTable_pcapng_records, METH_FASTCALL,
     "pcapng_records(buf, pos, end, number, big_endian, clocks, max_caplen) -> an iterator of the frame "
     "tuples of the Enhanced Packet Blocks of a pcapng section from pos that are not packets of light flows "
     "(those are consumed); it stops at the first block the Python reader must read, and its pos and number "
     "say where."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef LightTable_members[] = {
    {"last_number", T_ULONGLONG, offsetof(LightTable, last_number), 0,
     "The number of the last record consumed (0: none)."},
    {"consumed", T_ULONGLONG, offsetof(LightTable, consumed), READONLY, "Records consumed so far."},
    {"skipped", T_ULONGLONG, offsetof(LightTable, skipped), READONLY, "Records of other flow shards skipped."},
    {NULL, 0, 0, 0, NULL},
};

static PySequenceMethods LightTable_as_sequence = {
    .sq_length = (lenfunc)LightTable_len,
};

static PyTypeObject LightTableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tlsdoctor._lightpath.LightTable",
    .tp_basicsize = sizeof(LightTable),
    .tp_dealloc = (destructor)LightTable_dealloc,
    .tp_as_sequence = &LightTable_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The counters of the engine's light IPv4 flows, and a reader of their pcap and pcapng records.",
    .tp_methods = LightTable_methods,
    .tp_members = LightTable_members,
    .tp_new = LightTable_new,
};

static struct PyModuleDef lightpath_module = {
    PyModuleDef_HEAD_INIT, "tlsdoctor._lightpath",
    "Established connections' packets of a classic pcap or pcapng, read in C (see the source's header).", -1, NULL,
};

PyMODINIT_FUNC PyInit__lightpath(void) {
    if (PyType_Ready(&LightTableType) < 0 || PyType_Ready(&RecordsType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&lightpath_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&LightTableType);
    if (PyModule_AddObject(m, "LightTable", (PyObject *)&LightTableType) < 0) {
        Py_DECREF(&LightTableType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
