/* sc-status-text.c: translated texts for status codes and errors. */
#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "sc-client.h"
#include "sc-status-text.h"

const char *
sc_status_text (guint status)
{
  switch ((ScStatus) status)
    {
    case SC_STATUS_OK: return _ ("done");
    case SC_STATUS_BAD_REQUEST: return _ ("the server did not understand it");
    case SC_STATUS_VERSION_MISMATCH:
      return _ ("the server speaks another protocol version");
    case SC_STATUS_NOT_READY: return _ ("the connection is not ready yet");
    case SC_STATUS_NO_SUCH_CLIENT: return _ ("no client has that id");
    case SC_STATUS_TOO_LARGE: return _ ("the message is too long");
    case SC_STATUS_RECIPIENT_SLOW: return _ ("the recipient is not keeping up");
    case SC_STATUS_RECIPIENT_LEFT:
      return _ ("the recipient left before reading it");
    case SC_STATUS_SERVER_FULL: return _ ("the server is full");
    case SC_STATUS_SHUTTING_DOWN: return _ ("the server is shutting down");
    case SC_STATUS_INVALID_NICKNAME:
      return _ ("that nickname is taken or not allowed");
    case SC_STATUS_PROTOCOL_ERROR: return _ ("protocol error");
    case SC_STATUS_TIMEOUT: return _ ("the server timed out");
    case SC_STATUS_AUTH_FAILED: return _ ("the password was not accepted");
    case SC_STATUS_INTERNAL: return _ ("the server failed");
    case SC_STATUS_NICKNAME_IN_USE:
      return _ ("someone else uses that nickname or one too like it");
    case SC_STATUS_NICKNAME_REGISTERED:
      return _ ("that nickname is registered: its password is needed");
    case SC_STATUS_ENCRYPTION_REQUIRED:
      return _ ("the server takes the password over TLS only");
    case SC_STATUS_UNREACHABLE:
      return _ ("the recipient's server cannot be reached");
    default: return _ ("the server refused");
    }
}

/* Errors the window shows: status codes and the core's own conditions
 * in translation; anything else (a system error naming a host, say)
 * as it comes, since GLib translates those itself. */
char *
sc_error_text (const GError *error)
{
  g_return_val_if_fail (error != NULL, NULL);

  if (error->domain == SC_STATUS_ERROR)
    return g_strdup (sc_status_text ((guint) error->code));
  if (error->domain == SC_ERROR && error->code == SC_ERROR_PLAINTEXT_PASSWORD)
    return g_strdup (_ ("the password is sent over TLS only: turn on TLS, "
                        "or leave the password out"));
  if (error->domain == SC_ERROR && error->code == SC_ERROR_TIMEOUT)
    return g_strdup (_ ("no answer from the server in time"));
  if (error->domain == SC_ERROR && error->code == SC_ERROR_CLOSED)
    /* Translators: the core's English detail follows. */
    return g_strdup_printf (_ ("not connected (%s)"), error->message);
  return g_strdup (error->message);
}
