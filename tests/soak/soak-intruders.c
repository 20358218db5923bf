/* soak-intruders.c: silent connections and a password guesser. */
#include "config.h"

#include "soak-intruders.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "soak-conn.h"

#define GUESS_TIMEOUT_US (20 * G_USEC_PER_SEC)
/* The server's password attempt bounds (docs/PROTOCOL.md 5.1) allow
 * checks at 2/s plus 1/s, with bursts of 4 and 2; the guesser may not
 * get more than this many checked guesses a second over a run, on
 * average, plus the bursts. */
#define GUESS_RATE_BOUND 3.0
#define GUESS_BURST      6

typedef struct
{
  SoakConn conn;
  guint last_status; /* of the PROTOCOL_ERROR it got, + 1; 0: none */
  gboolean greeted;
} Silent;

typedef struct
{
  SoakConn conn;
  gboolean single; /* from the one address, not the many */
  guint next_address;
  gint64 deadline;
} Guess;

/* The silent connections and the guesser open connections at their own
 * paces, so that a guesser refused at once does not starve the others. */
typedef struct
{
  double tokens;
  gint64 last_refill;
} Bucket;

struct _SoakIntruders
{
  SoakIntrudersOptions options;
  GThread *thread;
  gint stop; /* atomic */

  Silent *silent;
  Guess *guesses;
  Bucket silent_bucket, guess_bucket; /* each opens open_rate a second */
  guint silent_cursor;

  /* Read by the main thread only after the join. */
  guint silent_opened, silent_timed_out, silent_full, silent_other;
  guint silent_ungreeted;
  guint guesses_sent[2], guesses_checked[2], guesses_unchecked[2];
  guint guesses_busy, guesses_other, guesses_unanswered, guesses_accepted;
};

/* Whether one more connection may be opened now from @bucket. */
static gboolean
take_token (SoakIntruders *intruders, Bucket *bucket)
{
  gint64 now = g_get_monotonic_time ();
  double rate = intruders->options.open_rate;

  if (bucket->last_refill == 0)
    bucket->last_refill = now;
  bucket->tokens =
    MIN (rate / 10 + 1,
         bucket->tokens + rate * (now - bucket->last_refill) / G_USEC_PER_SEC);
  bucket->last_refill = now;
  if (bucket->tokens < 1)
    return FALSE;
  bucket->tokens -= 1;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Silent connections */

static void
silent_open (SoakIntruders *intruders, guint i)
{
  Silent *silent = &intruders->silent[i];
  guint half = intruders->options.n_silent / 2;
  /* Half of them from one address, so that they pass its pending bound
   * and the server closes the oldest; the rest spread thin, so that they
   * wait for the hello timeout. */
  g_autofree char *source =
    i < half ? g_strdup ("127.4.0.1")
             : g_strdup_printf ("127.4.1.%u",
                                i % intruders->options.n_silent_addresses + 1);

  soak_conn_open (&silent->conn, intruders->options.port, source);
  silent->last_status = 0;
  silent->greeted = FALSE;
  intruders->silent_opened++;
}

/* The server closed it: for the hello timeout (TIMEOUT), for the pending
 * bounds (SERVER_FULL), or without saying why. */
static void
silent_closed (SoakIntruders *intruders, Silent *silent)
{
  if (silent->last_status == SC_STATUS_TIMEOUT + 1)
    intruders->silent_timed_out++;
  else if (silent->last_status == SC_STATUS_SERVER_FULL + 1)
    intruders->silent_full++;
  else
    intruders->silent_other++;
  if (!silent->greeted)
    intruders->silent_ungreeted++;
  soak_conn_close (&silent->conn);
}

static void
silent_read (SoakIntruders *intruders, Silent *silent)
{
  g_autoptr (GPtrArray) messages =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_message_free);
  int open = soak_conn_read (&silent->conn, messages);

  for (guint i = 0; i < messages->len; i++)
    {
      ScMessage *message = g_ptr_array_index (messages, i);

      if (message->type == SC_MSG_GREETING)
        silent->greeted = TRUE;
      else if (message->type == SC_MSG_PROTOCOL_ERROR)
        silent->last_status = message->status + 1;
    }
  if (open <= 0)
    silent_closed (intruders, silent);
}

/* ------------------------------------------------------------------ */
/* The guesser */

static void
guess_open (SoakIntruders *intruders, Guess *guess)
{
  g_autofree char *source =
    guess->single
      ? g_strdup ("127.2.0.1")
      : g_strdup_printf (
          "127.2.1.%u",
          guess->next_address++ % intruders->options.n_guess_addresses + 1);

  soak_conn_open (&guess->conn, intruders->options.port, source);
  guess->deadline = g_get_monotonic_time () + GUESS_TIMEOUT_US;
}

static void
guess_send (SoakIntruders *intruders, Guess *guess, guint32 max_payload)
{
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 1);

  sc_frame_reader_set_max_payload (guess->conn.reader, max_payload);
  hello->version = SC_PROTOCOL_VERSION;
  hello->name = g_strdup ("sockchat-soak-guesser");
  hello->nickname = g_strdup ("");
  hello->password = g_strdup_printf ("guess%u", g_random_int ());
  soak_conn_queue (&guess->conn, hello);
  intruders->guesses_sent[!guess->single]++;
}

static void
guess_answered (SoakIntruders *intruders, Guess *guess, ScStatus status)
{
  guint origin = !guess->single;

  if (status == SC_STATUS_AUTH_FAILED)
    intruders->guesses_checked[origin]++;
  else if (status == SC_STATUS_SERVER_FULL)
    intruders->guesses_unchecked[origin]++;
  else if (status == SC_STATUS_SERVER_BUSY)
    intruders->guesses_busy++;
  else if (status == SC_STATUS_OK)
    intruders->guesses_accepted++;
  else
    intruders->guesses_other++;
  soak_conn_close (&guess->conn);
}

static void
guess_read (SoakIntruders *intruders, Guess *guess)
{
  g_autoptr (GPtrArray) messages =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_message_free);
  int open = soak_conn_read (&guess->conn, messages);

  for (guint i = 0; i < messages->len && guess->conn.fd >= 0; i++)
    {
      ScMessage *message = g_ptr_array_index (messages, i);

      if (message->type == SC_MSG_GREETING)
        guess_send (intruders, guess, message->max_payload);
      else if (message->type == SC_MSG_HELLO_REPLY)
        guess_answered (intruders, guess, message->status);
      else if (message->type == SC_MSG_PROTOCOL_ERROR)
        guess_answered (intruders, guess, message->status);
    }
  if (guess->conn.fd >= 0 && open <= 0)
    {
      intruders->guesses_unanswered++;
      soak_conn_close (&guess->conn);
    }
}

/* ------------------------------------------------------------------ */

/* Reopens what is closed, as far as the connection rate allows, and gives
 * up on guesses past their deadline. */
static void
refill (SoakIntruders *intruders)
{
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < intruders->options.n_guessers; i++)
    {
      Guess *guess = &intruders->guesses[i];

      if (guess->conn.fd >= 0 && now > guess->deadline)
        {
          intruders->guesses_unanswered++;
          soak_conn_close (&guess->conn);
        }
      if (guess->conn.fd < 0 &&
          take_token (intruders, &intruders->guess_bucket))
        guess_open (intruders, guess);
    }
  /* Round robin, so that a churning few cannot starve the others. */
  for (guint k = 0; k < intruders->options.n_silent; k++)
    {
      guint i = (intruders->silent_cursor + k) % intruders->options.n_silent;

      if (intruders->silent[i].conn.fd >= 0)
        continue;
      if (!take_token (intruders, &intruders->silent_bucket))
        break;
      silent_open (intruders, i);
      intruders->silent_cursor = i + 1;
    }
}

static SoakConn *
conn_at (SoakIntruders *intruders, guint i)
{
  if (i < intruders->options.n_silent)
    return &intruders->silent[i].conn;
  return &intruders->guesses[i - intruders->options.n_silent].conn;
}

/* One poll over every open connection, for at most 20 ms. */
static void
poll_all (SoakIntruders *intruders)
{
  guint n = intruders->options.n_silent + intruders->options.n_guessers;
  g_autofree struct pollfd *pfds = g_new0 (struct pollfd, n);

  for (guint i = 0; i < n; i++)
    {
      SoakConn *conn = conn_at (intruders, i);

      if (conn->fd >= 0 && !soak_conn_flush (conn))
        soak_conn_close (conn);
      pfds[i].fd = conn->fd;
      pfds[i].events = POLLIN;
      if (conn->fd >= 0 && soak_conn_wants_write (conn))
        pfds[i].events |= POLLOUT;
    }
  if (poll (pfds, n, 20) < 0 && errno != EINTR)
    g_error ("poll: %s", g_strerror (errno));
  for (guint i = 0; i < n; i++)
    {
      if (pfds[i].fd < 0 || !(pfds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      if (i < intruders->options.n_silent)
        silent_read (intruders, &intruders->silent[i]);
      else
        guess_read (intruders,
                    &intruders->guesses[i - intruders->options.n_silent]);
    }
}

static gpointer
intruders_thread (gpointer data)
{
  SoakIntruders *intruders = data;
  guint n = intruders->options.n_silent + intruders->options.n_guessers;

  while (!g_atomic_int_get (&intruders->stop))
    {
      refill (intruders);
      poll_all (intruders);
    }
  for (guint i = 0; i < n; i++)
    soak_conn_close (conn_at (intruders, i));
  return NULL;
}

SoakIntruders *
soak_intruders_start (const SoakIntrudersOptions *options)
{
  SoakIntruders *intruders = g_new0 (SoakIntruders, 1);

  g_assert (options->n_silent_addresses > 0 && options->n_guess_addresses > 0);
  intruders->options = *options;
  intruders->silent = g_new0 (Silent, MAX (1, options->n_silent));
  intruders->guesses = g_new0 (Guess, MAX (1, options->n_guessers));
  for (guint i = 0; i < options->n_silent; i++)
    intruders->silent[i].conn.fd = -1;
  for (guint i = 0; i < options->n_guessers; i++)
    {
      intruders->guesses[i].conn.fd = -1;
      intruders->guesses[i].single = i % 2 == 0;
    }
  intruders->thread =
    g_thread_new ("soak-intruders", intruders_thread, intruders);
  return intruders;
}

void
soak_intruders_stop (SoakIntruders *intruders)
{
  if (intruders->thread == NULL)
    return;
  g_atomic_int_set (&intruders->stop, 1);
  g_thread_join (g_steal_pointer (&intruders->thread));
}

/* Prints what the intruders did; FALSE if a guess got in or more guesses
 * were checked than the server's bounds allow over @seconds. */
gboolean
soak_intruders_report (SoakIntruders *intruders, double seconds)
{
  guint checked = intruders->guesses_checked[0] + intruders->guesses_checked[1];
  double bound = GUESS_BURST + GUESS_RATE_BOUND * seconds;
  gboolean ok = TRUE;

  g_assert (intruders->thread == NULL);
  printf ("  silent: %u connections opened; closed by the server: %u for "
          "the hello timeout, %u for the pending bounds (SERVER_FULL), %u "
          "otherwise; %u never greeted\n",
          intruders->silent_opened, intruders->silent_timed_out,
          intruders->silent_full, intruders->silent_other,
          intruders->silent_ungreeted);
  for (guint origin = 0; origin < 2; origin++)
    printf ("  guesser from %s: %u wrong passwords sent, %u checked "
            "(AUTH_FAILED), %u refused unchecked (SERVER_FULL)\n",
            origin == 0 ? "127.2.0.1" : "127.2.1.x",
            intruders->guesses_sent[origin], intruders->guesses_checked[origin],
            intruders->guesses_unchecked[origin]);
  printf ("  guesser: %u checked in %.0f s (%.2f/s, bound %.0f), %u "
          "SERVER_BUSY, %u other answers, %u unanswered, %u let in\n",
          checked, seconds, checked / seconds, bound, intruders->guesses_busy,
          intruders->guesses_other, intruders->guesses_unanswered,
          intruders->guesses_accepted);
  if (intruders->guesses_accepted > 0)
    {
      printf ("  ERROR: a wrong password was accepted\n");
      ok = FALSE;
    }
  if (checked > bound)
    {
      printf ("  ERROR: more guesses checked than the bounds allow\n");
      ok = FALSE;
    }
  return ok;
}

void
soak_intruders_free (SoakIntruders *intruders)
{
  soak_intruders_stop (intruders);
  g_free (intruders->silent);
  g_free (intruders->guesses);
  g_free (intruders);
}
