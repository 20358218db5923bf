/* soak-conn.h: one raw, non-blocking client socket of the soak, with its
 * frame reader and its unsent output, for the agents that run their own
 * poll loop (the latency probe, the intruders). */
#pragma once

#include <glib.h>

#include "sc-frame-reader.h"
#include "sc-message.h"

G_BEGIN_DECLS

typedef struct
{
  int fd; /* -1 when closed */
  ScFrameReader *reader;
  GByteArray *out;
  gsize out_head;
} SoakConn;

int soak_connect_from (guint16 port, const char *source);
void soak_conn_open (SoakConn *conn, guint16 port, const char *source);
void soak_conn_close (SoakConn *conn);
void soak_conn_queue (SoakConn *conn, ScMessage *message);
gboolean soak_conn_wants_write (const SoakConn *conn);
gboolean soak_conn_flush (SoakConn *conn);
int soak_conn_read (SoakConn *conn, GPtrArray *messages);

G_END_DECLS
