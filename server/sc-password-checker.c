/* sc-password-checker.c: a GThreadPool for crypt_r, with results handed
 * back through one idle source per check (checks are few: at most
 * SC_AUTH_MAX_ATTEMPTS are under way at once). */
#include "config.h"

#include <string.h>

#include "sc-accounts.h"
#include "sc-password-checker.h"
#include "sc-tsan.h"

struct _ScPasswordChecker
{
  GThreadPool *pool;
};

typedef struct
{
  char *hash;
  char *password;
  gboolean right;
  GMainContext *context; /* the asker's, a reference */
  ScPasswordCheckDone done;
  gpointer data;
  GDestroyNotify destroy;
} Check;

static void
check_free (Check *check)
{
  /* From the pool thread through GLib's main context (see run_check). */
  SC_HAPPENS_AFTER (check);
  if (check->destroy != NULL)
    check->destroy (check->data);
  g_free (check->hash);
  if (check->password != NULL)
    memset (check->password, 0, strlen (check->password));
  g_free (check->password);
  g_main_context_unref (check->context);
  g_free (check);
}

static gboolean
deliver (gpointer data)
{
  Check *check = data;

  /* Handed over through GLib's main context, which ThreadSanitizer
   * does not see. */
  SC_HAPPENS_AFTER (check);
  check->done (check->right, check->data);
  return G_SOURCE_REMOVE;
}

/* On a pool thread: the slow part, then the outcome to the asker. */
static void
run_check (gpointer data, gpointer user_data)
{
  Check *check = data;
  GMainContext *context;
  g_autoptr (GSource) source = NULL;

  SC_HAPPENS_AFTER (check);
  context = check->context;
  check->right = sc_accounts_verify (check->hash, check->password);
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, deliver, check, (GDestroyNotify) check_free);
  /* Once attached, the asker's thread may run it and free @check: it is
   * not touched after this. */
  SC_HAPPENS_BEFORE (check);
  g_source_attach (source, context);
}

/* (transfer full) */
ScPasswordChecker *
sc_password_checker_new (guint n_threads)
{
  ScPasswordChecker *checker = g_new0 (ScPasswordChecker, 1);

  checker->pool =
    g_thread_pool_new (run_check, checker, MAX (1, n_threads), FALSE, NULL);
  return checker;
}

/* Waits for the checks under way; their outcomes are still delivered
 * when their askers' contexts run, or dropped with them. */
void
sc_password_checker_free (ScPasswordChecker *checker)
{
  if (checker == NULL)
    return;
  g_thread_pool_free (checker->pool, FALSE, TRUE);
  g_free (checker);
}

/* Checks @password against @hash on the pool; @done is then called in
 * the calling thread's thread-default main context, and @destroy (if not
 * NULL) frees @data once it has been called or dropped. */
void
sc_password_checker_verify (ScPasswordChecker *checker,
                            const char *hash,
                            const char *password,
                            ScPasswordCheckDone done,
                            gpointer data,
                            GDestroyNotify destroy)
{
  Check *check = g_new0 (Check, 1);

  g_return_if_fail (checker != NULL);

  check->hash = g_strdup (hash);
  check->password = g_strdup (password);
  check->context = g_main_context_ref_thread_default ();
  check->done = done;
  check->data = data;
  check->destroy = destroy;
  /* To a pool thread, through GLib's queue, which ThreadSanitizer does
   * not see. */
  SC_HAPPENS_BEFORE (check);
  g_thread_pool_push (checker->pool, check, NULL);
}
