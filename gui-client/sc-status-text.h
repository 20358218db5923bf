/* sc-status-text.h: the protocol's status codes and the client core's
 * errors in the user's language.  The server's own reason strings are
 * English; the window shows these instead. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

const char *sc_status_text (guint status);
char *sc_error_text (const GError *error);

G_END_DECLS
