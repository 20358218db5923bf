/* sc-password-checker.h: account passwords checked on threads of their
 * own.
 *
 * A yescrypt check takes tens of milliseconds; on a worker's thread it
 * would stall every other client of that worker.  The checker runs it on
 * a small thread pool and hands the outcome back to the main context of
 * the thread that asked (the worker), where @done is called.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _ScPasswordChecker ScPasswordChecker;

/* Called in the asking thread's context with the outcome. */
typedef void (*ScPasswordCheckDone) (gboolean right, gpointer data);

ScPasswordChecker *sc_password_checker_new (guint n_threads);
void sc_password_checker_free (ScPasswordChecker *checker);
void sc_password_checker_verify (ScPasswordChecker *checker,
                                 const char *hash,
                                 const char *password,
                                 ScPasswordCheckDone done,
                                 gpointer data,
                                 GDestroyNotify destroy);

G_END_DECLS
