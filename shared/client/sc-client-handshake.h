/* sc-client-handshake.h: one connection attempt of ScClient, run on a
 * GTask thread of its own: connect, TLS and the certificate check, the
 * server's GREETING and the HELLO.  The owner (sc-client.c) fills in
 * what to ask for, and on success takes the socket, the TLS session, the
 * reader, the greeting, the hello reply and the indications that came
 * before it. */
#pragma once

#include <gio/gio.h>

#include "sc-client-sender.h"
#include "sc-client-tls.h"
#include "sc-frame-reader.h"
#include "sc-message.h"

G_BEGIN_DECLS

/* The send timeout of the handshake, and of the connection after it
 * unless the owner sets another. */
#define SC_CLIENT_HANDSHAKE_SEND_TIMEOUT_S 5

typedef struct
{
  char *host;
  guint16 port;
  char *nickname;
  char *program;
  char *password;
  guint generation;
  int fd;
  gboolean use_tls;
  gboolean trust_new;
  gboolean allow_plaintext_password;
  char *accepted_fingerprint;
  char *known_servers_path;
  ScClientTls *tls;
  char *fingerprint; /* the server's certificate, also when refused */
  ScTlsTrust trust;
  ScFrameReader *reader;
  ScMessage *greeting;
  ScMessage *hello_reply;
  GPtrArray *early;         /* indications that came before the hello reply */
  ScClientSender *previous; /* the last connection's, still closing */
} Handshake;

void sc_client_handshake_free (Handshake *hs);
void sc_client_handshake_thread (GTask *task,
                                 gpointer source,
                                 gpointer data,
                                 GCancellable *cancellable);

G_END_DECLS
