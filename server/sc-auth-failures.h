/* sc-auth-failures.h: wrong passwords counted per address, so that
 * guessing from one address gets slower and slower. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ScAuthFailures ScAuthFailures;

ScAuthFailures *sc_auth_failures_new (void);
void sc_auth_failures_free (ScAuthFailures *failures);
guint sc_auth_failures_record (ScAuthFailures *failures,
                               const char *address,
                               gint64 now);
void sc_auth_failures_forget (ScAuthFailures *failures, const char *address);
guint sc_auth_failures_delay_ms (guint count);
gboolean sc_auth_password_matches (const char *expected, const char *given);

G_END_DECLS
