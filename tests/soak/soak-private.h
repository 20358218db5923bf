/* soak-private.h: the types every part of sockchat-soak shares: the
 * soak, its clients and its record of every message (soak.c explains
 * the workload and the accounting). */
#pragma once

#include <glib.h>

#include "sc-frame-reader.h"
#include "sc-message.h"
#include "sc-server-child.h"
#include "soak-intruders.h"
#include "soak-probe.h"

#define TICK_MS     10
#define MAX_PENDING 4 /* outstanding requests per client */
/* A leaving sender waits for its receipts.  Behind a message to a paced
 * recipient may wait the kernel's socket buffers (megabytes on loopback)
 * and half an output cap, read at VERY_SLOW_BYTES_PER_S until the
 * recipient leaves (up to PACED_LIFE_MAX_MS after it joined), and that
 * recipient may itself wait, leaving, for receipts from other paced
 * clients: with 45 s, chains of them made senders give up in one run of
 * two.  The drain is bounded by the same chains. */
#define LEAVE_TIMEOUT_US   (150 * G_USEC_PER_SEC)
#define DRAIN_TIMEOUT_US   (180 * G_USEC_PER_SEC)
#define CONNECT_TIMEOUT_US (15 * G_USEC_PER_SEC)
/* Clients connecting at once: a server with a password checks only a few
 * attempts at once (docs/PROTOCOL.md 5.1). */
#define MAX_CONNECTING 4
/* Read speeds of the slow kinds, and how long a no-ack client stays. */
#define SLOW_BYTES_PER_S      (256 * 1024)
#define VERY_SLOW_BYTES_PER_S (24 * 1024)
#define PACED_RCVBUF          (16 * 1024)
#define PACED_LIFE_MIN_MS     15000
#define PACED_LIFE_MAX_MS     35000
#define NO_ACK_LIFE_MIN_MS    3000
#define NO_ACK_LIFE_MAX_MS    8000
#define PROBE_INTERVAL_MS     20
#define PROBE_WINDOW_S        10
#define PROBE_P99_BOUND_MS    50.0

typedef enum
{
  KIND_FAST,      /* reads all it can, acknowledges */
  KIND_SLOW,      /* reads SLOW_BYTES_PER_S, acknowledges */
  KIND_VERY_SLOW, /* reads VERY_SLOW_BYTES_PER_S, acknowledges */
  KIND_NO_ACK,    /* reads all it can, never acknowledges, never sends */
  N_KINDS,
} ClientKind;

static inline gboolean
is_paced_kind (ClientKind kind)
{
  return kind == KIND_SLOW || kind == KIND_VERY_SLOW;
}

/* Statuses counted per kind: refusals of what it sent, and receipts. */
#define N_STATUSES (SC_STATUS_NICKNAME_REGISTERED + 1)

typedef struct
{
  guint connections, hello_refused, drops;
  guint sent, accepted, deliveries;
  guint refused[N_STATUSES];  /* SEND_MESSAGE / BROADCAST / LIST replies */
  guint receipts[N_STATUSES]; /* receipts it got, by status */
} KindStats;

typedef enum
{
  CLIENT_CONNECTING, /* waiting for GREETING, then HELLO_REPLY */
  CLIENT_READY,      /* acting */
  CLIENT_LEAVING,    /* no new requests; waiting for what it is owed */
  CLIENT_CLOSING,    /* shut down for writing; reading until EOF */
  CLIENT_CLOSED,
} ClientState;

typedef enum
{
  RECORD_PENDING,
  RECORD_ACCEPTED,
  RECORD_REFUSED,
} RecordState;

/* One message, by its token. */
typedef struct
{
  guint64 token;
  guint32 sender;
  guint32 recipient; /* 0: broadcast */
  RecordState state;
  guint64 message_id;
  guint expected_receipts;
  GHashTable *delivered; /* recipient id -> times */
  guint32 unacked_by;    /* a recipient that got it and did not ack */
  const char *unacked_why;
  GHashTable *receipts; /* recipient id -> status + 1 */
} Record;

typedef struct
{
  int fd;
  guint32 id;
  ClientKind kind;
  ClientState state;
  gboolean said_hello;
  gboolean dropped;  /* the server said it was too slow */
  gint64 leave_at;   /* no-ack clients: when to leave; 0 for others */
  gsize read_budget; /* slow kinds: bytes it may read this tick */
  ScFrameReader *reader;
  GByteArray *out;
  gsize out_head;
  GHashTable *pending; /* request id -> Record* (NULL for LIST/HELLO) */
  guint owed_receipts;
  guint32 next_request;
  gint64 deadline; /* of the current phase (connect, leave, close) */
} Client;

typedef struct
{
  /* Options */
  char *server_binary;
  guint seconds;
  guint n_clients;
  guint threads;
  guint rate;
  double rss_growth_mib;
  gint64 seed;
  guint n_kind[N_KINDS];
  guint text_bytes;
  guint max_memory_mib;
  guint max_per_address;
  guint n_silent, n_guessers;
  gboolean password_on, probe_on;
  char *password;
  char *password_file;

  /* The server */
  ScServerChild *server;
  guint16 port;

  GPtrArray *clients;     /* Client*, the current population */
  GHashTable *ready;      /* id -> Client*, clients a message may go to */
  GHashTable *records;    /* token -> Record* */
  GHashTable *by_message; /* message id -> Record* */
  guint64 next_token;
  GHashTable *seen_ids;    /* every client id ever greeted -> kind + 1 */
  GHashTable *dropped_ids; /* clients the server dropped as too slow */
  guint next_address;
  GRand *rand;
  gboolean acting;
  gint64 last_broadcast;

  /* Counters */
  guint n_errors;
  guint n_sent, n_broadcasts, n_accepted, n_refused;
  guint n_deliveries, n_receipts_ok, n_receipts_failed;
  guint n_lists, n_joins, n_leaves;
  guint n_excused;
  gsize rss_quarter, rss_end;
  gsize rss_start, rss_min, rss_max;
  KindStats kinds[N_KINDS];
  SoakProbe *probe;
  SoakIntruders *intruders;
} Soak;

void G_GNUC_PRINTF (2, 3) soak_fail (Soak *soak, const char *format, ...);

/* soak-clients.c: the population's life and its poll loop. */
void client_queue (Client *client, ScMessage *message);
guint32 queue_request (Client *client, ScMessage *message, Record *record);
Client *client_new (ClientKind kind);
void client_free (Client *client);
void client_closed (Soak *soak, Client *client);
void client_lost (Soak *soak, Client *client, const char *why);
void begin_leave (Soak *soak, Client *client);
const char *state_name (ClientState state);
void soak_tick (Soak *soak);
void soak_advance (Soak *soak);
void soak_refill_budgets (Soak *soak);
void soak_poll_once (Soak *soak, int timeout_ms);
void soak_flush_all (Soak *soak);

/* soak-receive.c: what a client does with each frame it receives. */
void on_frame (Soak *soak, Client *client, ScMessage *message);
