/* sc-cluster-client.h: the clients of sc-cluster-load, on the nodes of a
 * SockChat cluster, all driven from one thread with poll(), and what
 * every mode shares: TAP lines, waiting for a condition, listing. */
#pragma once

#include <glib.h>

#include "sc-frame-reader.h"
#include "sc-message.h"

G_BEGIN_DECLS

typedef struct
{
  int fd;
  guint node;
  guint32 id;
  guint32 next_request;
  ScFrameReader *reader;
  GByteArray *out;
  gboolean acks;    /* acknowledges what it receives */
  gboolean listing; /* a LIST is under way */
  GArray *listed;   /* guint32: ids seen in the list under way */
  guint32 list_count;
  gboolean list_done;
  ScStatus hello_status; /* of the HELLO_REPLY, once answered */
  gboolean answered;
} Client;

/* The nodes' ports, from --ports. */
extern guint16 ports[8];
extern guint n_ports;
/* Every client connected, freed on removal. */
extern GPtrArray *clients;
/* "not ok" lines printed so far. */
extern int n_failed;
/* What the mode under way does with each message a client receives. */
extern void (*on_message) (Client *client, ScMessage *message);

typedef gboolean (*Condition) (gpointer data);

void ok (gboolean passed, const char *format, ...) G_GNUC_PRINTF (2, 3);
gint64 now_us (void);
void queue (Client *client, ScMessage *message);
void client_free (Client *client);
void pump_set (GPtrArray *set, int timeout_ms);
void pump (int timeout_ms);
gboolean pump_until (Condition condition, gpointer data, guint timeout_ms);
gboolean has_id (gpointer data);
Client *
connect_client (guint node, const char *nickname, guint16 flags, gboolean wait);
void disconnect_client (Client *client);
void start_list (Client *client);
gboolean list_done (gpointer data);
gboolean lists_agree (GPtrArray *listers, guint want, guint *seen);
GPtrArray *one_per_node (GPtrArray *all);
gboolean wait_lists_agree (GPtrArray *listers,
                           guint want,
                           guint timeout_ms,
                           guint *seen);

G_END_DECLS
