/* sc-cli.c: the menu of sockchat-cli.
 *
 * ScCli asks one question at a time through ScCliOutput and reacts to the
 * answer.  An action that talks to the server leaves the CLI busy, with
 * standard input unread, until the client core answers (or fails, or
 * times out); then the menu comes back.  So a script piped in produces
 * the same transcript every time, while indications are printed
 * whenever they arrive.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "sc-cli-private.h"

enum
{
  SIGNAL_FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (ScCli, sc_cli, G_TYPE_OBJECT)

typedef enum
{
  ACTION_CONNECT = 1,
  ACTION_DISCONNECT,
  ACTION_GET_TIME,
  ACTION_GET_NAME,
  ACTION_LIST,
  ACTION_SEND,
  ACTION_EXIT,
} Action;

static const char *const action_labels[] = {
  NULL,
  N_ ("Connect"),
  N_ ("Disconnect"),
  N_ ("Get the time"),
  N_ ("Get the name"),
  N_ ("List clients"),
  N_ ("Send a message"),
  N_ ("Exit"),
};

static gboolean
is_connected (ScCli *self)
{
  return sc_client_get_state (self->client) == SC_CLIENT_STATE_CONNECTED;
}

/* While disconnected only Connect and Exit are offered. */
static gboolean
action_available (ScCli *self, guint action)
{
  return is_connected (self) || action == ACTION_CONNECT ||
         action == ACTION_EXIT;
}

/* Formats an address and port as "192.0.2.1:5330" or "[2001:db8::1]:5330".
 * (transfer full) */
char *
sc_cli_format_endpoint (const char *address, guint16 port)
{
  g_autofree char *safe = sc_cli_output_sanitize (address);

  if (strchr (safe, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", safe, port);
  return g_strdup_printf ("%s:%u", safe, port);
}

/* ------------------------------------------------------------------ */
/* The menu */

/* Returns the menu for the current state, one line per action on a
 * terminal, one line in all otherwise.  (transfer full) */
char *
sc_cli_format_menu (ScCli *self)
{
  gboolean interactive = sc_cli_output_is_interactive (self->output);
  GString *menu = g_string_new (interactive ? "" : _ ("Menu:"));
  gboolean first = TRUE;

  for (guint i = ACTION_CONNECT; i <= ACTION_EXIT; i++)
    {
      if (!action_available (self, i))
        continue;
      if (interactive)
        g_string_append_printf (menu, "\n  %u  %s", i, _ (action_labels[i]));
      else
        /* Translators: a menu item: its number and its label. */
        g_string_append_printf (menu, _ ("%s%u %s"), first ? " " : ", ", i,
                                _ (action_labels[i]));
      first = FALSE;
    }
  return g_string_free (menu, FALSE);
}

void
sc_cli_print_menu (ScCli *self)
{
  g_autofree char *menu = sc_cli_format_menu (self);

  self->menu_connected = is_connected (self);
  sc_cli_output_print (self->output, "%s", menu);
}

const char *
sc_cli_choice_prompt (ScCli *self)
{
  return is_connected (self) ? _ ("Choice [1-7]: ") : _ ("Choice [1 or 7]: ");
}

static void do_exit (ScCli *self);

/* Shows the menu and waits for a choice: where every action ends. */
void
sc_cli_show_menu (ScCli *self)
{
  if (self->step == SC_CLI_STEP_DONE)
    return;
  if (self->quit_requested)
    {
      do_exit (self);
      return;
    }
  sc_cli_print_menu (self);
  self->step = SC_CLI_STEP_CHOICE;
  sc_cli_output_read_line (self->output, sc_cli_choice_prompt (self));
}

static void
print_error (ScCli *self, const char *what, const GError *error)
{
  g_autofree char *message = sc_cli_output_sanitize (error->message);
  gsize length = strlen (message);

  /* The line ends with its own full stop, not with a second one. */
  if (length > 0 && message[length - 1] == '.')
    message[length - 1] = '\0';
  /* Translators: the first %s says what failed, the second why. */
  sc_cli_output_print (self->output, _ ("%s: %s."), what, message);
}

/* ------------------------------------------------------------------ */
/* 1: Connect */

/* A host name fit for printing; an empty one shows as "". */
static char *
display_host (const char *host)
{
  if (host == NULL || *host == '\0')
    return g_strdup ("\"\"");
  return sc_cli_output_sanitize (host);
}

static void
print_greeting (ScCli *self)
{
  const char *server = sc_client_get_server_name (self->client);
  guint max_payload = sc_client_get_max_payload (self->client);
  guint max_clients = sc_client_get_max_clients (self->client);
  guint heartbeat = sc_client_get_server_heartbeat (self->client);
  g_autofree char *name = NULL;
  guint text_limit;

  if (server == NULL)
    return;
  name = sc_cli_output_sanitize (server);
  /* A text may take the payload limit less what the server adds. */
  text_limit = max_payload > 512 ? max_payload - 512 : 0;
  sc_cli_output_print (self->output,
                       _ ("Greeting from server \"%s\", protocol version %u:"),
                       name, sc_client_get_protocol_version (self->client));
  sc_cli_output_print (
    self->output,
    g_dngettext (GETTEXT_PACKAGE, "  at most %u client at a time,",
                 "  at most %u clients at a time,", max_clients),
    max_clients);
  sc_cli_output_print (
    self->output,
    g_dngettext (GETTEXT_PACKAGE, "  messages of up to %u byte,",
                 "  messages of up to %u bytes,", text_limit),
    text_limit);
  sc_cli_output_print (
    self->output,
    g_dngettext (GETTEXT_PACKAGE, "  a heartbeat after %u second of silence.",
                 "  a heartbeat after %u seconds of silence.", heartbeat),
    heartbeat);
}

static void start_connect (ScCli *self, const char *host, guint16 port);

/* A TLS server showed a certificate no authority vouches for and that
 * was never seen for this host and port: like SSH, the user decides,
 * after seeing its fingerprint. */
static void
ask_trust (ScCli *self, const char *host, guint16 port)
{
  g_autofree char *safe_host = display_host (host);
  const char *fingerprint = sc_client_get_tls_fingerprint (self->client);

  g_free (self->trust_host);
  self->trust_host = g_strdup (host);
  self->trust_port = port;
  g_free (self->trust_fingerprint);
  self->trust_fingerprint = g_strdup (fingerprint);
  sc_cli_output_print (
    self->output,
    _ ("The certificate of %s port %u is not signed by an authority this "
       "system trusts, and this is the first time it is seen."),
    safe_host, port);
  sc_cli_output_print (self->output, _ ("Its SHA-256 fingerprint is %s"),
                       fingerprint);
  sc_cli_output_print (self->output,
                       _ ("Compare it with the one the server's operator "
                          "published before you trust it."));
  self->step = SC_CLI_STEP_TRUST;
  sc_cli_output_read_line (self->output,
                           _ ("Trust this certificate and remember it? "
                              "[y/N]: "));
}

static void
on_trust (ScCli *self, const char *line)
{
  g_autofree char *answer = g_strstrip (g_strdup (line));
  g_autofree char *host = g_steal_pointer (&self->trust_host);
  g_autofree char *fingerprint = g_steal_pointer (&self->trust_fingerprint);

  /* Translators: the answers that mean yes to a [y/N] question, in lower
   * case, separated by "|"; the English ones are accepted too. */
  g_auto (GStrv) yes = g_strsplit (_ ("y|yes"), "|", -1);
  gboolean trusted = g_ascii_strcasecmp (answer, "y") == 0 ||
                     g_ascii_strcasecmp (answer, "yes") == 0;

  for (guint i = 0; yes[i] && !trusted; i++)
    trusted = g_utf8_collate (answer, yes[i]) == 0;
  if (!trusted)
    {
      sc_cli_output_print (self->output, _ ("Not connected."));
      sc_cli_show_menu (self);
      return;
    }
  sc_client_set_accepted_fingerprint (self->client, fingerprint);
  start_connect (self, host, self->trust_port);
}

static void
print_tls (ScCli *self)
{
  const char *how = NULL;

  switch (sc_client_get_tls_trust (self->client))
    {
    case SC_TLS_TRUST_NONE: return;
    case SC_TLS_TRUST_AUTHORITY:
      how = _ ("signed by an authority this system trusts");
      break;
    case SC_TLS_TRUST_REMEMBERED:
      how = _ ("the one remembered for this server");
      break;
    case SC_TLS_TRUST_FIRST_USE:
      how = _ ("seen for the first time, now remembered");
      break;
    default: return;
    }
  sc_cli_output_print (self->output,
                       _ ("Encrypted with TLS. Server certificate "
                          "SHA-256 %s (%s)."),
                       sc_client_get_tls_fingerprint (self->client), how);
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (ScCli) self = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *host = g_steal_pointer (&self->connect_host);
  guint16 port = self->connect_port;
  const char *nickname;

  if (!sc_client_connect_finish (self->client, result, &error))
    {
      if (self->step == SC_CLI_STEP_DONE)
        return;
      g_autofree char *safe_host = display_host (host);
      g_autofree char *what = g_strdup_printf (
        _ ("Could not connect to %s port %u"), safe_host, port);

      if (g_error_matches (error, SC_ERROR, SC_ERROR_TLS_UNKNOWN_CERTIFICATE) &&
          sc_client_get_tls_fingerprint (self->client) != NULL)
        {
          ask_trust (self, host, port);
          return;
        }
      print_error (self, what, error);
      sc_cli_show_menu (self);
      return;
    }
  if (self->step == SC_CLI_STEP_DONE)
    return;

  /* What worked becomes the default for the next time. */
  g_free (self->host);
  self->host = g_strdup (host);
  self->port = port;

  g_autofree char *safe_host = sc_cli_output_sanitize (host);
  nickname = sc_client_get_nickname (self->client);
  if (nickname != NULL && *nickname != '\0')
    {
      g_autofree char *safe_nickname = sc_cli_output_sanitize (nickname);

      sc_cli_output_print (
        self->output, _ ("Connected to %s port %u as client %u (%s)."),
        safe_host, port, sc_client_get_id (self->client), safe_nickname);
    }
  else
    {
      sc_cli_output_print (self->output,
                           _ ("Connected to %s port %u as client %u."),
                           safe_host, port, sc_client_get_id (self->client));
    }
  print_tls (self);
  print_greeting (self);
  sc_cli_show_menu (self);
}

static void
start_connect (ScCli *self, const char *host, guint16 port)
{
  g_autofree char *safe_host = display_host (host);

  g_free (self->connect_host);
  self->connect_host = g_strdup (host);
  self->connect_port = port;
  self->step = SC_CLI_STEP_BUSY;
  sc_cli_output_print (self->output, _ ("Connecting to %s port %u..."),
                       safe_host, port);
  sc_client_connect_async (self->client, host, port, self->nickname,
                           self->cancellable, on_connected,
                           g_object_ref (self));
}

static void
ask_host (ScCli *self)
{
  g_autofree char *prompt = NULL;
  g_autofree char *safe_host = sc_cli_output_sanitize (self->host);

  if (is_connected (self))
    {
      g_autofree char *host =
        sc_cli_output_sanitize (sc_client_get_host (self->client));

      sc_cli_output_print (
        self->output,
        _ ("Already connected to %s port %u: choose 2 to disconnect first."),
        host, sc_client_get_port (self->client));
      sc_cli_show_menu (self);
      return;
    }
  prompt = g_strdup_printf (_ ("Server address [%s]: "), safe_host);
  self->step = SC_CLI_STEP_HOST;
  sc_cli_output_read_line (self->output, prompt);
}

static void
on_host (ScCli *self, const char *line)
{
  g_autofree char *host = g_strstrip (g_strdup (line));
  g_autofree char *prompt = NULL;

  g_free (self->connect_host);
  self->connect_host = g_strdup (*host != '\0' ? host : self->host);
  prompt = g_strdup_printf (_ ("Port [%u]: "), self->port);
  self->step = SC_CLI_STEP_PORT;
  sc_cli_output_read_line (self->output, prompt);
}

static void ask_nickname (ScCli *self);

/* Parses a port number, 1 to 65535. */
static gboolean
parse_port (const char *text, guint16 *port)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT16, &value, NULL))
    return FALSE;
  *port = (guint16) value;
  return TRUE;
}

static void
on_port (ScCli *self, const char *line)
{
  g_autofree char *text = g_strstrip (g_strdup (line));
  g_autofree char *host = g_steal_pointer (&self->connect_host);
  guint16 port = self->port;

  if (*text != '\0' && !parse_port (text, &port))
    {
      g_autofree char *safe = sc_cli_output_sanitize (text);

      sc_cli_output_print (
        self->output,
        _ ("Invalid port \"%s\": enter a number from 1 to 65535."), safe);
      sc_cli_show_menu (self);
      return;
    }
  self->connect_host = g_steal_pointer (&host);
  self->connect_port = port;
  ask_nickname (self);
}

/* The last question of Connect; an empty answer keeps the nickname
 * given before (on the command line or at the last connection). */
static void
ask_nickname (ScCli *self)
{
  g_autofree char *prompt = NULL;

  if (self->nickname != NULL && *self->nickname != '\0')
    {
      g_autofree char *safe = sc_cli_output_sanitize (self->nickname);

      prompt = g_strdup_printf (_ ("Nickname [%s]: "), safe);
    }
  else
    prompt = g_strdup (_ ("Nickname (empty for none): "));
  self->step = SC_CLI_STEP_NICKNAME;
  sc_cli_output_read_line (self->output, prompt);
}

static void
on_nickname (ScCli *self, const char *line)
{
  g_autofree char *nickname = g_strstrip (g_strdup (line));
  g_autofree char *host = g_steal_pointer (&self->connect_host);

  if (*nickname != '\0')
    {
      g_free (self->nickname);
      self->nickname = g_steal_pointer (&nickname);
    }
  start_connect (self, host, self->connect_port);
}

/* ------------------------------------------------------------------ */
/* 3 and 4: Get the time, Get the name */

static void
print_time (ScCli *self, GDateTime *time, const char *timezone)
{
  g_autofree char *zone = sc_cli_output_sanitize (timezone);
  g_autofree char *stamp = sc_client_format_time (time);
  int millis = g_date_time_get_microsecond (time) / 1000;

  /* Translators: the time as sockchat shows it too, then the zone. */
  sc_cli_output_print (self->output, _ ("Server time: %s (%s)"), stamp, zone);
  sc_cli_output_print (self->output, _ ("Unix time: %lld.%03d"),
                       (long long) g_date_time_to_unix (time), millis);
}

static void
on_time (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (ScCli) self = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *timezone = NULL;
  g_autoptr (GDateTime) time =
    sc_client_get_time_finish (self->client, result, &timezone, &error);

  if (self->step == SC_CLI_STEP_DONE)
    return;
  if (time == NULL)
    print_error (self, _ ("Could not get the time"), error);
  else
    print_time (self, time, timezone);
  sc_cli_show_menu (self);
}

static void
on_name (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (ScCli) self = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *name =
    sc_client_get_name_finish (self->client, result, &error);

  if (self->step == SC_CLI_STEP_DONE)
    return;
  if (name == NULL)
    {
      print_error (self, _ ("Could not get the name"), error);
    }
  else
    {
      g_autofree char *safe = sc_cli_output_sanitize (name);

      sc_cli_output_print (self->output, _ ("Server host name: %s"), safe);
    }
  sc_cli_show_menu (self);
}

/* ------------------------------------------------------------------ */
/* 5: List clients */

/* Appends @text padded with spaces to @width characters. */
/* Columns a string takes in a terminal: CJK characters take two. */
static guint
display_width (const char *text)
{
  guint width = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (!g_unichar_iszerowidth (c))
        width += g_unichar_iswide (c) ? 2 : 1;
    }
  return width;
}

static void
append_cell (GString *row, const char *text, guint width, gboolean right)
{
  guint length = display_width (text);
  guint pad = length < width ? width - length : 0;

  if (right)
    for (guint i = 0; i < pad; i++)
      g_string_append_c (row, ' ');
  g_string_append (row, text);
  if (!right)
    for (guint i = 0; i < pad; i++)
      g_string_append_c (row, ' ');
}

#define N_COLUMNS 5

static void
print_table_row (ScCli *self,
                 gboolean own,
                 char *cells[N_COLUMNS],
                 const guint widths[N_COLUMNS])
{
  g_autoptr (GString) row = g_string_new (own ? "* " : "  ");

  for (guint c = 0; c < N_COLUMNS; c++)
    {
      /* Numbers are right-aligned; the last column needs no padding. */
      gboolean right = c == 0 || c == 3;

      append_cell (row, cells[c], c == N_COLUMNS - 1 ? 0 : widths[c], right);
      if (c < N_COLUMNS - 1)
        g_string_append (row, "  ");
    }
  sc_cli_output_print (self->output, "%s", row->str);
}

static void
print_clients (ScCli *self, GPtrArray *clients)
{
  guint32 own_id = sc_client_get_id (self->client);
  g_autoptr (GPtrArray) rows =
    g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  char *header[N_COLUMNS] = {
    _ ("ID"), _ ("Nickname"), _ ("Address"), _ ("Port"), _ ("Connected since"),
  };
  guint widths[N_COLUMNS];

  for (guint c = 0; c < N_COLUMNS; c++)
    widths[c] = display_width (header[c]);
  for (guint i = 0; i < clients->len; i++)
    {
      const ScPeer *info = g_ptr_array_index (clients, i);
      g_autoptr (GDateTime) since =
        g_date_time_new_from_unix_local (info->connected_since_ms / 1000);
      char **cells = g_new0 (char *, N_COLUMNS + 1);

      cells[0] = g_strdup_printf ("%u", info->id);
      cells[1] = info->nickname && *info->nickname
                   ? sc_cli_output_sanitize (info->nickname)
                   : g_strdup ("-");
      cells[2] = sc_cli_output_sanitize (info->address);
      cells[3] = g_strdup_printf ("%u", info->port);
      cells[4] = since ? g_date_time_format (since, "%Y-%m-%d %H:%M:%S")
                       : g_strdup ("?");
      for (guint c = 0; c < N_COLUMNS; c++)
        widths[c] = MAX (widths[c], display_width (cells[c]));
      g_ptr_array_add (rows, cells);
    }

  print_table_row (self, FALSE, header, widths);
  for (guint i = 0; i < rows->len; i++)
    {
      const ScPeer *info = g_ptr_array_index (clients, i);

      print_table_row (self, info->id == own_id, g_ptr_array_index (rows, i),
                       widths);
    }
  sc_cli_output_print (
    self->output,
    g_dngettext (GETTEXT_PACKAGE, "%u client connected; * marks you.",
                 "%u clients connected; * marks you.", clients->len),
    clients->len);
}

static void
on_list (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (ScCli) self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) clients =
    sc_client_list_clients_finish (self->client, result, &error);

  if (self->step == SC_CLI_STEP_DONE)
    return;
  if (clients == NULL)
    print_error (self, _ ("Could not list the clients"), error);
  else
    print_clients (self, clients);
  sc_cli_show_menu (self);
}

/* ------------------------------------------------------------------ */
/* 6: Send a message */

static void
on_recipient (ScCli *self, const char *line)
{
  g_autofree char *text = g_strstrip (g_strdup (line));
  guint64 id = 0;

  self->to_everyone =
    g_ascii_strcasecmp (text, "all") == 0 || g_strcmp0 (text, "0") == 0;
  if (!self->to_everyone &&
      !g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT32, &id, NULL))
    {
      g_autofree char *safe = sc_cli_output_sanitize (text);

      sc_cli_output_print (self->output,
                           _ ("Invalid client number \"%s\": enter a number "
                              "from the list (5), or 0 or \"all\" for "
                              "everyone."),
                           safe);
      sc_cli_show_menu (self);
      return;
    }
  self->recipient = (guint32) id;
  self->step = SC_CLI_STEP_TEXT;
  sc_cli_output_read_line (self->output, _ ("Message: "));
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (ScCli) self = data;
  g_autoptr (GError) error = NULL;
  guint64 message_id;

  message_id = sc_client_send_message_finish (self->client, result, &error);
  if (self->step == SC_CLI_STEP_DONE)
    return;
  if (error != NULL)
    print_error (self, _ ("Message not sent"), error);
  else
    sc_cli_output_print (self->output, _ ("Message %llu sent to client %u."),
                         (unsigned long long) message_id, self->recipient);
  sc_cli_show_menu (self);
}

static void
on_broadcast (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (ScCli) self = data;
  g_autoptr (GError) error = NULL;
  guint n_recipients = 0;
  guint64 message_id;

  message_id =
    sc_client_broadcast_finish (self->client, result, &n_recipients, &error);
  if (self->step == SC_CLI_STEP_DONE)
    return;
  if (error != NULL)
    print_error (self, _ ("Message not sent"), error);
  else if (n_recipients == 0)
    sc_cli_output_print (self->output,
                         _ ("Message %llu reached nobody: no other client "
                            "is connected."),
                         (unsigned long long) message_id);
  else
    sc_cli_output_print (
      self->output,
      g_dngettext (GETTEXT_PACKAGE, "Message %llu sent to %u client.",
                   "Message %llu sent to %u clients.", n_recipients),
      (unsigned long long) message_id, n_recipients);
  sc_cli_show_menu (self);
}

static void
on_text (ScCli *self, const char *line)
{
  g_autofree char *stripped = g_strstrip (g_strdup (line));

  if (*stripped == '\0')
    {
      sc_cli_output_print (self->output,
                           _ ("The message is empty: nothing was sent."));
      sc_cli_show_menu (self);
      return;
    }
  self->step = SC_CLI_STEP_BUSY;
  /* The text goes out as typed, inner and outer spaces included. */
  if (self->to_everyone)
    sc_client_broadcast_async (self->client, line, self->cancellable,
                               on_broadcast, g_object_ref (self));
  else
    sc_client_send_message_async (self->client, self->recipient, line,
                                  self->cancellable, on_sent,
                                  g_object_ref (self));
}

/* ------------------------------------------------------------------ */
/* 7: Exit, and the choice itself */

static void
do_exit (ScCli *self)
{
  if (self->step == SC_CLI_STEP_DONE)
    return;
  /* Set first: requests that the disconnection fails must not bring the
   * menu back. */
  self->step = SC_CLI_STEP_DONE;
  /* Closed first: a prompt still up (on a signal) ends its line before
   * "Disconnected." is printed. */
  sc_cli_output_close (self->output);
  if (sc_client_get_state (self->client) != SC_CLIENT_STATE_DISCONNECTED)
    sc_client_disconnect (self->client);
  sc_cli_output_print (self->output, _ ("Goodbye."));
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0);
}

static void
on_choice (ScCli *self, const char *line)
{
  g_autofree char *text = g_strstrip (g_strdup (line));
  guint64 choice;

  if (*text == '\0')
    {
      /* An empty line asks for the menu again. */
      sc_cli_show_menu (self);
      return;
    }
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &choice, NULL))
    {
      g_autofree char *safe = sc_cli_output_sanitize (text);

      sc_cli_output_print (
        self->output,
        _ ("Invalid choice \"%s\": enter a number from the menu."), safe);
      sc_cli_show_menu (self);
      return;
    }
  if (choice < ACTION_CONNECT || choice > ACTION_EXIT)
    {
      g_autofree char *safe = sc_cli_output_sanitize (text);

      sc_cli_output_print (
        self->output, _ ("There is no action %s: enter a number from 1 to 7."),
        safe);
      sc_cli_show_menu (self);
      return;
    }
  if (!action_available (self, (guint) choice))
    {
      sc_cli_output_print (
        self->output, _ ("Not connected: choose 1 to connect or 7 to exit."));
      sc_cli_show_menu (self);
      return;
    }

  switch ((Action) choice)
    {
    case ACTION_CONNECT: ask_host (self); break;
    case ACTION_DISCONNECT:
      /* ::disconnected prints the result. */
      sc_client_disconnect (self->client);
      sc_cli_show_menu (self);
      break;
    case ACTION_GET_TIME:
      self->step = SC_CLI_STEP_BUSY;
      sc_client_get_time_async (self->client, self->cancellable, on_time,
                                g_object_ref (self));
      break;
    case ACTION_GET_NAME:
      self->step = SC_CLI_STEP_BUSY;
      sc_client_get_name_async (self->client, self->cancellable, on_name,
                                g_object_ref (self));
      break;
    case ACTION_LIST:
      self->step = SC_CLI_STEP_BUSY;
      sc_client_list_clients_async (self->client, self->cancellable, on_list,
                                    g_object_ref (self));
      break;
    case ACTION_SEND:
      self->step = SC_CLI_STEP_RECIPIENT;
      sc_cli_output_read_line (self->output,
                               _ ("Client number (0 or \"all\" for "
                                  "everyone): "));
      break;
    case ACTION_EXIT:
    default: do_exit (self); break;
    }
}

static void
on_line (ScCliOutput *output, const char *line, gpointer data)
{
  ScCli *self = data;

  /* The end of input is Exit. */
  if (line == NULL)
    {
      do_exit (self);
      return;
    }
  switch (self->step)
    {
    case SC_CLI_STEP_CHOICE: on_choice (self, line); break;
    case SC_CLI_STEP_HOST: on_host (self, line); break;
    case SC_CLI_STEP_PORT: on_port (self, line); break;
    case SC_CLI_STEP_NICKNAME: on_nickname (self, line); break;
    case SC_CLI_STEP_RECIPIENT: on_recipient (self, line); break;
    case SC_CLI_STEP_TEXT: on_text (self, line); break;
    case SC_CLI_STEP_TRUST: on_trust (self, line); break;
    case SC_CLI_STEP_IDLE:
    case SC_CLI_STEP_BUSY:
    case SC_CLI_STEP_DONE:
    default: g_assert_not_reached ();
    }
}

/* ------------------------------------------------------------------ */
/* Public API and GObject boilerplate */

/* Sets the default answers to Connect's questions and the nickname
 * every connection asks for (NULL or "": none). */
void
sc_cli_set_defaults (ScCli *self,
                     const char *host,
                     guint16 port,
                     const char *nickname)
{
  g_return_if_fail (SC_IS_CLI (self));

  if (host != NULL)
    {
      g_free (self->host);
      self->host = g_strdup (host);
    }
  if (port != 0)
    self->port = port;
  g_free (self->nickname);
  self->nickname = g_strdup (nickname);
}

/* Shows the menu, or with @connect_now connects to the default server
 * first. */
void
sc_cli_start (ScCli *self, gboolean connect_now)
{
  g_return_if_fail (SC_IS_CLI (self));
  g_return_if_fail (self->step == SC_CLI_STEP_IDLE);

  if (connect_now)
    start_connect (self, self->host, self->port);
  else
    sc_cli_show_menu (self);
}

/* Exits as 7 does, for a signal.  A connection attempt cannot be
 * interrupted; the exit then waits for it to end (a few seconds at
 * most). */
void
sc_cli_quit (ScCli *self)
{
  g_return_if_fail (SC_IS_CLI (self));

  if (self->step == SC_CLI_STEP_BUSY &&
      sc_client_get_state (self->client) == SC_CLIENT_STATE_CONNECTING)
    {
      self->quit_requested = TRUE;
      return;
    }
  do_exit (self);
}

gboolean
sc_cli_is_finished (ScCli *self)
{
  g_return_val_if_fail (SC_IS_CLI (self), TRUE);
  return self->step == SC_CLI_STEP_DONE;
}

ScCli *
sc_cli_new (ScClient *client, ScCliOutput *output)
{
  ScCli *self;

  g_return_val_if_fail (SC_IS_CLIENT (client), NULL);
  g_return_val_if_fail (SC_IS_CLI_OUTPUT (output), NULL);

  self = g_object_new (SC_TYPE_CLI, NULL);
  self->client = g_object_ref (client);
  self->output = g_object_ref (output);
  g_signal_connect_object (output, "line", G_CALLBACK (on_line), self, 0);
  sc_cli_connect_indications (self);
  return self;
}

static void
sc_cli_dispose (GObject *object)
{
  ScCli *self = SC_CLI (object);

  g_cancellable_cancel (self->cancellable);
  if (self->client != NULL)
    {
      for (guint i = 0; i < self->handlers->len; i++)
        g_signal_handler_disconnect (self->client,
                                     g_array_index (self->handlers, gulong, i));
      g_array_set_size (self->handlers, 0);
    }
  g_clear_object (&self->client);
  g_clear_object (&self->output);
  G_OBJECT_CLASS (sc_cli_parent_class)->dispose (object);
}

static void
sc_cli_finalize (GObject *object)
{
  ScCli *self = SC_CLI (object);

  g_array_unref (self->handlers);
  g_clear_object (&self->cancellable);
  g_free (self->host);
  g_free (self->nickname);
  g_free (self->connect_host);
  g_free (self->trust_host);
  g_free (self->trust_fingerprint);
  G_OBJECT_CLASS (sc_cli_parent_class)->finalize (object);
}

static void
sc_cli_class_init (ScCliClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sc_cli_dispose;
  object_class->finalize = sc_cli_finalize;

  /* Emitted once, after Exit, the end of input or sc_cli_quit(). */
  signals[SIGNAL_FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
sc_cli_init (ScCli *self)
{
  self->cancellable = g_cancellable_new ();
  self->handlers = g_array_new (FALSE, FALSE, sizeof (gulong));
  self->host = g_strdup (SC_CLI_DEFAULT_HOST);
  self->port = SC_DEFAULT_PORT;
}
