/* soak.c: sockchat-soak, a long mixed workload against the server binary
 * that accounts for every message.
 *
 * One process, one poll() loop, raw non-blocking sockets.  A population
 * of clients sends messages to each other, broadcasts, lists clients,
 * leaves and is replaced by newcomers.  Every message text carries a
 * unique token naming its sender and its addressee, so a recipient checks
 * that what it got was meant for it, and the soak keeps a record per
 * token of replies, deliveries and receipts.  At the end every message
 * must be accounted for:
 *
 *  - refused (an error reply): delivered to nobody;
 *  - accepted: exactly one receipt per recipient (one for a message, the
 *    announced count for a broadcast); an OK receipt only from a
 *    recipient that got the message, and no recipient got it twice.
 *
 * A client leaves gracefully: it stops sending, waits for the answers and
 * receipts it is owed (still acknowledging what it receives), then shuts
 * its side down and reads until the server closes.  So every sender is
 * connected when its receipts come and nothing escapes the accounting.
 *
 * The server's resident memory is read at 25% and at 100% of the run;
 * see --rss-growth-mib for the bound.
 *
 * The long soak (issue 12) adds clients that read slowly or very slowly
 * (--slow, --very-slow: a few KiB, or a few hundred bytes, per tick),
 * clients that read but never acknowledge (--no-ack: they only receive,
 * and leave after a few seconds), silent connections and a password
 * guesser (soak-intruders.c), and an innocent client that times GET_TIME
 * (soak-probe.c); with --max-memory-mib it also samples the server's RSS
 * every second and checks that it stays within the limit plus what the
 * server held before the load began.  A client the server drops as too
 * slow is counted, not failed; the messages it sent are excused, as the
 * protocol promises receipts only to a sender still connected.
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "soak-conn.h"
#include "soak-private.h"

void
soak_fail (Soak *soak, const char *format, ...)
{
  va_list args;

  soak->n_errors++;
  if (soak->n_errors > 20)
    return;
  fputs ("sockchat-soak: ERROR: ", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
}

static void
record_free (Record *record)
{
  g_hash_table_unref (record->delivered);
  g_hash_table_unref (record->receipts);
  g_free (record);
}

/* ------------------------------------------------------------------ */
/* The server */

/* A password file with a fresh password, for --with-password. */
static gboolean
write_password_file (Soak *soak)
{
  g_autoptr (GError) error = NULL;
  int fd =
    g_file_open_tmp ("sockchat-soak-XXXXXX", &soak->password_file, &error);

  if (fd < 0)
    {
      soak_fail (soak, "cannot write a password file: %s", error->message);
      return FALSE;
    }
  close (fd);
  soak->password = g_strdup_printf ("soak-%08x", g_rand_int (soak->rand));
  if (!g_file_set_contents (soak->password_file, soak->password, -1, &error))
    {
      soak_fail (soak, "cannot write a password file: %s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* The command line: the short soak's settings, and the long soak's
 * limits when asked for. */
static GPtrArray *
server_args (Soak *soak)
{
  GPtrArray *args = g_ptr_array_new_with_free_func (g_free);
  const char *fixed[] = { "--port", "0", "--bind", "127.0.0.1" };

  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (args, g_strdup (fixed[i]));
  g_ptr_array_add (args, g_strdup ("--threads"));
  g_ptr_array_add (args, g_strdup_printf ("%u", soak->threads));
  g_ptr_array_add (args, g_strdup ("--max-clients"));
  g_ptr_array_add (args, g_strdup_printf ("%u", soak->n_clients * 2 + 8));
  if (soak->max_memory_mib > 0)
    {
      g_ptr_array_add (args, g_strdup ("--max-memory"));
      g_ptr_array_add (
        args, g_strdup_printf ("%" G_GUINT64_FORMAT,
                               (guint64) soak->max_memory_mib * 1024 * 1024));
    }
  if (soak->max_per_address > 0)
    {
      g_ptr_array_add (args, g_strdup ("--max-per-address"));
      g_ptr_array_add (args, g_strdup_printf ("%u", soak->max_per_address));
    }
  if (soak->password_file != NULL)
    {
      g_ptr_array_add (args, g_strdup ("--password-file"));
      g_ptr_array_add (args, g_strdup (soak->password_file));
      /* The soak's clients speak plain SockChat. */
      g_ptr_array_add (args, g_strdup ("--allow-plaintext-password"));
    }
  g_ptr_array_add (args, NULL);
  return args;
}

/* The server binary as a child (tests/support), its log discarded: a
 * long soak would otherwise collect every connection's log line.  With
 * SOAK_KEEP_SERVER_LOG=FILE in the environment the log is kept and
 * written to FILE at the end, for diagnosing a failed run. */
static gboolean
start_server (Soak *soak)
{
  g_autoptr (GPtrArray) args = NULL;
  ScServerChildOptions options = {
    .binary = soak->server_binary,
    .discard_stderr = g_getenv ("SOAK_KEEP_SERVER_LOG") == NULL,
  };
  g_autoptr (GError) error = NULL;

  if (soak->password_on && !write_password_file (soak))
    return FALSE;
  args = server_args (soak);
  options.args = (const char *const *) args->pdata;
  soak->server = sc_server_child_spawn (&options, &error);
  if (soak->server != NULL)
    soak->port = sc_server_child_read_port (soak->server, 10000, &error);
  if (error != NULL)
    {
      soak_fail (soak, "cannot start %s: %s", soak->server_binary,
                 error->message);
      return FALSE;
    }
  return TRUE;
}

static gsize
server_rss (Soak *soak)
{
  g_autofree char *path = g_strdup_printf (
    "/proc/%d/status", (int) sc_server_child_get_pid (soak->server));
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents (path, &status, NULL, NULL) ||
      (line = strstr (status, "\nVmRSS:")) == NULL)
    return 0;
  return (gsize) g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10) * 1024;
}

/* SIGTERM and the exit status; -1 when it died by a signal or had to be
 * killed. */
static int
stop_server (Soak *soak)
{
  g_autoptr (GError) error = NULL;
  int status = sc_server_child_stop (soak->server, 10000, &error);

  if (error != NULL)
    soak_fail (soak, "%s", error->message);
  return status;
}

/* ------------------------------------------------------------------ */

/* A message whose sender the server dropped as too slow may lack its
 * answer or receipts: they are promised only to a connected sender. */
static gboolean
excused (Soak *soak, Record *record)
{
  if (!g_hash_table_contains (soak->dropped_ids,
                              GUINT_TO_POINTER (record->sender)))
    return FALSE;
  return record->state == RECORD_PENDING ||
         (record->state == RECORD_ACCEPTED &&
          g_hash_table_size (record->receipts) < record->expected_receipts);
}

static void
final_accounting (Soak *soak)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, soak->records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Record *record = value;
      GHashTableIter deliveries;
      gpointer key;

      if (excused (soak, record))
        {
          soak->n_excused++;
          continue;
        }
      switch (record->state)
        {
        case RECORD_PENDING:
          soak_fail (soak, "T%" G_GUINT64_FORMAT " never answered",
                     record->token);
          break;
        case RECORD_REFUSED:
          if (g_hash_table_size (record->delivered) > 0)
            soak_fail (soak, "T%" G_GUINT64_FORMAT " refused yet delivered",
                       record->token);
          break;
        case RECORD_ACCEPTED:
          if (g_hash_table_size (record->receipts) != record->expected_receipts)
            soak_fail (soak,
                       "T%" G_GUINT64_FORMAT ": %u receipts, %u recipients",
                       record->token, g_hash_table_size (record->receipts),
                       record->expected_receipts);
          g_hash_table_iter_init (&deliveries, record->delivered);
          while (g_hash_table_iter_next (&deliveries, &key, NULL))
            if (!g_hash_table_contains (record->receipts, key))
              soak_fail (soak,
                         "T%" G_GUINT64_FORMAT ": delivered to %u, no receipt",
                         record->token, GPOINTER_TO_UINT (key));
          break;
        default: g_assert_not_reached ();
        }
    }
}

static gboolean
all_drained (Soak *soak)
{
  return soak->clients->len == 0;
}

/* The server's RSS, into the run's minimum and maximum. */
static void
sample_rss (Soak *soak)
{
  gsize rss = server_rss (soak);

  if (rss == 0)
    return;
  soak->rss_min = soak->rss_min == 0 ? rss : MIN (soak->rss_min, rss);
  soak->rss_max = MAX (soak->rss_max, rss);
}

/* The innocent client joins before the load begins, so that the RSS read
 * then is the server's fixed overhead with one client. */
static gboolean
start_probe (Soak *soak)
{
  soak->probe = soak_probe_start (soak->port, "127.3.0.1", soak->password,
                                  PROBE_INTERVAL_MS);
  if (!soak_probe_wait_ready (soak->probe, 10000))
    {
      soak_fail (soak, "the innocent client could not join");
      return FALSE;
    }
  return TRUE;
}

static void
start_intruders (Soak *soak)
{
  SoakIntrudersOptions options = {
    .port = soak->port,
    .n_silent = soak->n_silent,
    .n_silent_addresses = 8,
    .n_guessers = soak->n_guessers,
    .n_guess_addresses = 8,
    .open_rate = 50,
  };

  if (soak->n_silent > 0 || soak->n_guessers > 0)
    soak->intruders = soak_intruders_start (&options);
}

/* The acting part of the run: @seconds of load, the RSS sampled every
 * second. */
static void
act_for (Soak *soak, gint64 start)
{
  gint64 quarter = start + (gint64) soak->seconds * G_USEC_PER_SEC / 4;
  gint64 end = start + (gint64) soak->seconds * G_USEC_PER_SEC;
  gint64 next_tick = start, next_sample = start;
  gboolean sampled_quarter = FALSE;

  soak->acting = TRUE;
  while (g_get_monotonic_time () < end)
    {
      gint64 now = g_get_monotonic_time ();

      if (now >= next_tick)
        {
          soak_tick (soak);
          soak_refill_budgets (soak);
          soak_flush_all (soak);
          next_tick = now + TICK_MS * 1000;
        }
      soak_poll_once (soak, (int) MAX (0, (next_tick - now) / 1000));
      soak_advance (soak);
      now = g_get_monotonic_time ();
      if (now >= next_sample)
        {
          sample_rss (soak);
          next_sample += G_USEC_PER_SEC;
        }
      if (!sampled_quarter && now >= quarter)
        {
          soak->rss_quarter = server_rss (soak);
          sampled_quarter = TRUE;
        }
    }
  soak->rss_end = server_rss (soak);
  soak->acting = FALSE;
}

/* Everyone leaves the same graceful way, collecting what it is owed. */
static void
drain (Soak *soak)
{
  gint64 drain_deadline = g_get_monotonic_time () + DRAIN_TIMEOUT_US;

  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      if (client->state == CLIENT_READY)
        begin_leave (soak, client);
    }
  while (!all_drained (soak) && g_get_monotonic_time () < drain_deadline)
    {
      soak_flush_all (soak);
      soak_poll_once (soak, TICK_MS);
      soak_advance (soak);
    }
  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      soak_fail (soak,
                 "client %u still not done after the drain: %s, %u requests "
                 "unanswered, %u receipts missing, %u bytes unsent",
                 client->id, state_name (client->state),
                 g_hash_table_size (client->pending), client->owed_receipts,
                 client->out->len - (guint) client->out_head);
    }
}

static const char *const kind_names[N_KINDS] = { "fast", "slow", "very slow",
                                                 "no-ack" };

static const char *const status_names[N_STATUSES] = {
  "OK",
  "BAD_REQUEST",
  "VERSION_MISMATCH",
  "NOT_READY",
  "NO_SUCH_CLIENT",
  "TOO_LARGE",
  "RECIPIENT_SLOW",
  "RECIPIENT_LEFT",
  "SERVER_FULL",
  "SHUTTING_DOWN",
  "INVALID_NICKNAME",
  "PROTOCOL_ERROR",
  "TIMEOUT",
  "AUTH_FAILED",
  "INTERNAL",
  "SERVER_BUSY",
  "RATE_LIMITED",
  "NICKNAME_IN_USE",
  "NICKNAME_REGISTERED",
};

/* "RECIPIENT_SLOW 12, SERVER_BUSY 3" for the non-zero @counts. */
static char *
format_statuses (const guint *counts, gboolean with_ok)
{
  GString *text = g_string_new (NULL);

  for (guint status = with_ok ? 0 : 1; status < N_STATUSES; status++)
    if (counts[status] > 0)
      g_string_append_printf (text, "%s%s %u", text->len ? ", " : "",
                              status_names[status], counts[status]);
  if (text->len == 0)
    g_string_append (text, "none");
  return g_string_free (text, FALSE);
}

static void
print_kinds (Soak *soak)
{
  for (guint kind = 0; kind < N_KINDS; kind++)
    {
      KindStats *stats = &soak->kinds[kind];
      g_autofree char *refused = NULL, *receipts = NULL;

      if (soak->n_kind[kind] == 0)
        continue;
      refused = format_statuses (stats->refused, FALSE);
      receipts = format_statuses (stats->receipts, TRUE);
      printf ("  %-9s x%u: %u connections (%u HELLO refused), %u drops; "
              "sent %u, accepted %u, refused: %s; %u deliveries; receipts "
              "got: %s\n",
              kind_names[kind], soak->n_kind[kind], stats->connections,
              stats->hello_refused, stats->drops, stats->sent, stats->accepted,
              refused, stats->deliveries, receipts);
    }
}

static double
mib (gsize bytes)
{
  return bytes / (1024.0 * 1024);
}

/* The RSS bounds: under --max-memory plus the overhead measured before
 * the load when a limit is set, else the growth bound of the short soak. */
static void
check_rss (Soak *soak)
{
  double growth_mib = mib (soak->rss_end) - mib (soak->rss_quarter);

  printf ("  server RSS: %.1f MiB at 25%%, %.1f MiB at 100%% (growth %.2f "
          "MiB); sampled every second: min %.1f, max %.1f MiB\n",
          mib (soak->rss_quarter), mib (soak->rss_end), growth_mib,
          mib (soak->rss_min), mib (soak->rss_max));
  if (soak->rss_quarter == 0 || soak->rss_end == 0)
    soak_fail (soak, "could not read the server's memory");
  else if (soak->max_memory_mib > 0)
    {
      double bound = soak->max_memory_mib + mib (soak->rss_start);

      printf ("  RSS bound: --max-memory %u MiB + %.1f MiB fixed overhead "
              "(RSS with the innocent client only) = %.1f MiB\n",
              soak->max_memory_mib, mib (soak->rss_start), bound);
      if (mib (soak->rss_max) > bound)
        soak_fail (soak, "server RSS reached %.1f MiB", mib (soak->rss_max));
    }
  else if (growth_mib > soak->rss_growth_mib)
    soak_fail (soak, "server memory grew by %.2f MiB (bound %.1f MiB)",
               growth_mib, soak->rss_growth_mib);
}

static void
print_summary (Soak *soak)
{
  printf ("sockchat-soak: %u s, %u clients (%u joined, %u left), %u "
          "threads\n",
          soak->seconds, soak->n_clients, soak->n_joins, soak->n_leaves,
          soak->threads);
  printf ("  requests: %u messages, %u broadcasts, %u lists\n", soak->n_sent,
          soak->n_broadcasts, soak->n_lists);
  printf ("  accepted %u, refused %u; %u deliveries; receipts: %u "
          "delivered, %u failed; %u messages of dropped senders excused\n",
          soak->n_accepted, soak->n_refused, soak->n_deliveries,
          soak->n_receipts_ok, soak->n_receipts_failed, soak->n_excused);
  print_kinds (soak);
}

static int
run (Soak *soak)
{
  int exit_status;

  if (!start_server (soak))
    return 1;
  if (soak->probe_on && !start_probe (soak))
    {
      stop_server (soak);
      return 1;
    }
  soak->rss_start = server_rss (soak);
  for (guint kind = 0; kind < N_KINDS; kind++)
    for (guint i = 0; i < soak->n_kind[kind]; i++)
      g_ptr_array_add (soak->clients, client_new ((ClientKind) kind));
  start_intruders (soak);

  act_for (soak, g_get_monotonic_time ());
  if (soak->intruders != NULL)
    soak_intruders_stop (soak->intruders);
  if (soak->probe != NULL)
    soak_probe_stop (soak->probe);
  drain (soak);
  final_accounting (soak);
  exit_status = stop_server (soak);
  if (g_getenv ("SOAK_KEEP_SERVER_LOG") != NULL)
    {
      g_autofree char *log = sc_server_child_get_stderr (soak->server);

      g_file_set_contents (g_getenv ("SOAK_KEEP_SERVER_LOG"), log ? log : "",
                           -1, NULL);
    }
  /* -1 is already reported, with the reason. */
  if (exit_status > 0)
    soak_fail (soak, "the server exited with status %d", exit_status);

  print_summary (soak);
  check_rss (soak);
  if (soak->intruders != NULL &&
      !soak_intruders_report (soak->intruders, soak->seconds))
    soak_fail (soak, "the intruders got further than the bounds allow");
  if (soak->probe != NULL &&
      !soak_probe_report (soak->probe, PROBE_WINDOW_S, PROBE_P99_BOUND_MS))
    soak_fail (soak, "the innocent client was not served in time");
  if (soak->n_accepted == 0 || soak->n_receipts_ok == 0)
    soak_fail (soak, "nothing was delivered");
  printf ("sockchat-soak: %s (%u errors)\n",
          soak->n_errors == 0 ? "PASS" : "FAIL", soak->n_errors);
  return soak->n_errors == 0 ? 0 : 1;
}

/* Sizes the population; FALSE when the kinds leave fewer than two fast
 * clients. */
static gboolean
set_kinds (Soak *soak, int clients, int slow, int very_slow, int no_ack)
{
  if (slow < 0 || very_slow < 0 || no_ack < 0 ||
      clients - slow - very_slow - no_ack < 2)
    return FALSE;
  soak->n_clients = (guint) clients;
  soak->n_kind[KIND_SLOW] = (guint) slow;
  soak->n_kind[KIND_VERY_SLOW] = (guint) very_slow;
  soak->n_kind[KIND_NO_ACK] = (guint) no_ack;
  soak->n_kind[KIND_FAST] = (guint) (clients - slow - very_slow - no_ack);
  return TRUE;
}

static void
soak_clear (Soak *soak)
{
  g_ptr_array_free (soak->clients, TRUE);
  g_hash_table_unref (soak->ready);
  g_hash_table_unref (soak->by_message);
  g_hash_table_unref (soak->seen_ids);
  g_hash_table_unref (soak->dropped_ids);
  g_hash_table_unref (soak->records);
  g_rand_free (soak->rand);
  g_clear_pointer (&soak->server, sc_server_child_free);
  g_clear_pointer (&soak->probe, soak_probe_free);
  g_clear_pointer (&soak->intruders, soak_intruders_free);
  if (soak->password_file != NULL)
    unlink (soak->password_file);
  g_free (soak->password_file);
  g_free (soak->password);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  Soak soak = { 0 };
  gint seconds = 60, clients = 200, threads = 4, rate = 4000;
  gint slow = 0, very_slow = 0, no_ack = 0, text_bytes = 200;
  gint max_memory_mib = 0, max_per_address = 0, silent = 0, guessers = 0;
  gboolean with_password = FALSE, probe = FALSE;
  gint64 seed = 0;
  int status;
  /* An absolute bound: with a fixed population the server's working
   * set is flat once every worker's allocator arena has grown, and at a
   * few MiB of RSS a relative bound would be within allocator noise.  A
   * per-message leak of even a few dozen bytes exceeds it within a
   * minute.  Sanitizer builds keep freed memory in quarantine. */
#if defined(__SANITIZE_ADDRESS__)
  double rss_growth_mib = 128;
#else
  double rss_growth_mib = 8;
#endif
  g_autofree char *server = NULL;
  const GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_FILENAME, &server,
      "The sockchat-server binary (default: $SC_SERVER_BINARY)", "PATH" },
    { "seconds", 't', 0, G_OPTION_ARG_INT, &seconds, "Run time (60)", "S" },
    { "clients", 'c', 0, G_OPTION_ARG_INT, &clients,
      "Clients of every kind together (200)", "N" },
    { "slow", 0, 0, G_OPTION_ARG_INT, &slow,
      "Of those, clients that read 256 KiB/s (0)", "N" },
    { "very-slow", 0, 0, G_OPTION_ARG_INT, &very_slow,
      "Of those, clients that read 24 KiB/s (0)", "N" },
    { "no-ack", 0, 0, G_OPTION_ARG_INT, &no_ack,
      "Of those, clients that never acknowledge and only receive (0)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Server threads (4)", "N" },
    { "rate", 'r', 0, G_OPTION_ARG_INT, &rate,
      "Requests per second, all clients together (4000)", "N" },
    { "text-bytes", 0, 0, G_OPTION_ARG_INT, &text_bytes,
      "Most padding bytes in a message text (200)", "N" },
    { "max-memory-mib", 0, 0, G_OPTION_ARG_INT, &max_memory_mib,
      "Start the server with this --max-memory, sample its RSS every second "
      "and bound it by this plus its RSS before the load (0: the server's "
      "default, and the growth bound instead)",
      "MIB" },
    { "max-per-address", 0, 0, G_OPTION_ARG_INT, &max_per_address,
      "The server's --max-per-address (0: its default)", "N" },
    { "with-password", 0, 0, G_OPTION_ARG_NONE, &with_password,
      "Start the server with a --password-file", NULL },
    { "silent", 0, 0, G_OPTION_ARG_INT, &silent,
      "Connections that never say HELLO, replaced when closed (0)", "N" },
    { "guessers", 0, 0, G_OPTION_ARG_INT, &guessers,
      "Concurrent wrong-password guesses (0; needs --with-password)", "N" },
    { "probe", 0, 0, G_OPTION_ARG_NONE, &probe,
      "An innocent client timing GET_TIME, p99 bound 50 ms per 10 s", NULL },
    { "rss-growth-mib", 0, 0, G_OPTION_ARG_DOUBLE, &rss_growth_mib,
      "Allowed server RSS growth from 25% to 100% of the run (8)", "MIB" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed", "N" },
    G_OPTION_ENTRY_NULL,
  };

  setlocale (LC_ALL, "");
  context = g_option_context_new ("- account for every message under load");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "sockchat-soak: %s\n", error->message);
      return 2;
    }
  if (server == NULL)
    server = g_strdup (g_getenv ("SC_SERVER_BINARY"));
  if (server == NULL || seconds < 1 || threads < 1 || rate < 1 ||
      text_bytes < 1 || max_memory_mib < 0 || max_per_address < 0 ||
      silent < 0 || guessers < 0 || (guessers > 0 && !with_password) ||
      !set_kinds (&soak, clients, slow, very_slow, no_ack))
    {
      fprintf (stderr, "sockchat-soak: need --server (or SC_SERVER_BINARY), "
                       "--seconds >= 1, at least 2 fast clients, and "
                       "--with-password for --guessers\n");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);

  soak.server_binary = server;
  soak.seconds = (guint) seconds;
  soak.threads = (guint) threads;
  soak.rate = (guint) rate;
  soak.text_bytes = (guint) text_bytes;
  soak.max_memory_mib = (guint) max_memory_mib;
  soak.max_per_address = (guint) max_per_address;
  soak.n_silent = (guint) silent;
  soak.n_guessers = (guint) guessers;
  soak.password_on = with_password;
  soak.probe_on = probe;
  soak.rss_growth_mib = rss_growth_mib;
  soak.seed = seed != 0 ? seed : g_get_real_time ();
  soak.rand = g_rand_new_with_seed ((guint32) soak.seed);
  soak.clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);
  soak.ready = g_hash_table_new (NULL, NULL);
  soak.records = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                        (GDestroyNotify) record_free);
  soak.by_message = g_hash_table_new (g_int64_hash, g_int64_equal);
  soak.seen_ids = g_hash_table_new (NULL, NULL);
  soak.dropped_ids = g_hash_table_new (NULL, NULL);
  printf ("sockchat-soak: seed %" G_GINT64_FORMAT "\n", soak.seed);

  status = run (&soak);
  soak_clear (&soak);
  return status;
}
