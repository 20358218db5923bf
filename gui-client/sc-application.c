/* sc-application.c: the desktop client's GtkApplication. */
#include "config.h"

#include <glib/gi18n.h>

#include "sc-application.h"
#include "sc-preferences.h"
#include "sc-window-private.h"

struct _ScApplication
{
  GtkApplication parent_instance;

  GtkWidget *shortcuts; /* built on first use, then only hidden */
};

G_DEFINE_FINAL_TYPE (ScApplication, sc_application, GTK_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
  { "host", 'H', 0, G_OPTION_ARG_STRING, NULL,
    N_ ("Server host name or address"), N_ ("HOST") },
  { "port", 'p', 0, G_OPTION_ARG_INT, NULL, N_ ("Server TCP port"),
    N_ ("PORT") },
  { "nickname", 'n', 0, G_OPTION_ARG_STRING, NULL, N_ ("Nickname to ask for"),
    N_ ("NAME") },
  { "connect", 'c', 0, G_OPTION_ARG_NONE, NULL,
    N_ ("Connect as soon as the window opens"), NULL },
  { "tls", 0, 0, G_OPTION_ARG_NONE, NULL,
    N_ ("Connect over TLS (default port 5331), checking the server's "
        "certificate"),
    NULL },
  { "version", 'V', 0, G_OPTION_ARG_NONE, NULL,
    N_ ("Print the version and exit"), NULL },
  { NULL }
};

static void
quit_activated (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  GtkApplication *app = data;
  GList *windows;

  /* Destroying the windows disconnects their clients cleanly; the
   * application then exits because it holds no window. */
  while ((windows = gtk_application_get_windows (app)) != NULL)
    gtk_widget_destroy (windows->data);
}

static ScWindow *open_window (ScApplication *self);

static void
new_window_activated (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  gtk_window_present (GTK_WINDOW (open_window (data)));
}

static void
preferences_activated (GSimpleAction *action,
                       GVariant *parameter,
                       gpointer data)
{
  GtkWindow *parent = gtk_application_get_active_window (data);

  gtk_window_present (GTK_WINDOW (sc_preferences_new (parent)));
}

static void
about_activated (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  static const char *authors[] = { "SockChat contributors", NULL };

  gtk_show_about_dialog (
    gtk_application_get_active_window (data), "program-name", "SockChat",
    "logo-icon-name", "io.github.sockchat.SockChat", "version", PACKAGE_VERSION,
    "comments",
    _ ("A TCP chat client for the SockChat server, with the networking "
       "lab's seven actions."),
    "authors", authors, "license-type", GTK_LICENSE_MIT_X11,
    /* Translators: put your name here, one per line. */
    "translator-credits", _ ("translator-credits"), NULL);
}

/* One shortcuts window for the whole application, built when first
 * asked for and hidden, never destroyed, when closed: GTK 3 leaves a
 * dangling widget behind a destroyed GtkShortcutsWindow (also behind
 * GtkApplicationWindow's help overlay), and the next theme change (the
 * dark style, say) crashes on it. */
static void
shortcuts_activated (GSimpleAction *action, GVariant *parameter, gpointer data)
{
  ScApplication *self = data;
  GtkWindow *parent =
    gtk_application_get_active_window (GTK_APPLICATION (self));

  if (self->shortcuts == NULL)
    {
      g_autoptr (GtkBuilder) builder = gtk_builder_new_from_resource (
        "/io/github/sockchat/SockChat/ui/sc-shortcuts.ui");

      self->shortcuts = g_object_ref (
        GTK_WIDGET (gtk_builder_get_object (builder, "shortcuts")));
      g_signal_connect (self->shortcuts, "delete-event",
                        G_CALLBACK (gtk_widget_hide_on_delete), NULL);
    }
  gtk_window_set_transient_for (GTK_WINDOW (self->shortcuts), parent);
  gtk_window_present (GTK_WINDOW (self->shortcuts));
}

/* A notification was clicked: (window id, conversation key). */
static void
open_conversation_activated (GSimpleAction *action,
                             GVariant *parameter,
                             gpointer data)
{
  guint window_id;
  const char *key;
  GtkWindow *window;

  g_variant_get (parameter, "(u&s)", &window_id, &key);
  window = gtk_application_get_window_by_id (data, window_id);
  if (window == NULL)
    return; /* closed since */
  gtk_window_present (window);
  sc_window_open_conversation (SC_WINDOW (window), key);
}

/* Preferences' Clear History: every window writes out what it has
 * queued, the store is emptied, and the windows' conversation logs,
 * filled from it, are emptied too. */
static void
clear_history_activated (GSimpleAction *action,
                         GVariant *parameter,
                         gpointer data)
{
  GList *windows = gtk_application_get_windows (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (ScHistory) history = NULL;

  for (GList *l = windows; l; l = l->next)
    if (SC_IS_WINDOW (l->data) && SC_WINDOW (l->data)->history)
      sc_history_flush (SC_WINDOW (l->data)->history);
  history = sc_history_new (NULL, &error);
  if (history == NULL || !sc_history_clear (history, &error))
    {
      GtkWindow *parent = gtk_application_get_active_window (data);
      GtkWidget *dialog = gtk_message_dialog_new (
        parent, GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
        GTK_MESSAGE_ERROR, GTK_BUTTONS_CLOSE, "%s",
        _ ("The history could not be deleted"));

      gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog),
                                                "%s", error->message);
      g_signal_connect (dialog, "response", G_CALLBACK (gtk_widget_destroy),
                        NULL);
      gtk_window_present (GTK_WINDOW (dialog));
      return;
    }
  for (GList *l = windows; l; l = l->next)
    if (SC_IS_WINDOW (l->data))
      sc_window_history_cleared (SC_WINDOW (l->data));
}

static const GActionEntry app_entries[] = {
  { "clear-history", clear_history_activated, NULL, NULL, NULL },
  { "open-conversation", open_conversation_activated, "(us)", NULL, NULL },
  { "shortcuts", shortcuts_activated, NULL, NULL, NULL },
  { "quit", quit_activated, NULL, NULL, NULL },
  { "new-window", new_window_activated, NULL, NULL, NULL },
  { "preferences", preferences_activated, NULL, NULL, NULL },
  { "about", about_activated, NULL, NULL, NULL },
};

static void
set_accels (GtkApplication *app)
{
  static const struct
  {
    const char *action;
    const char *accel;
  } accels[] = {
    { "app.quit", "<Primary>q" },
    { "app.new-window", "<Primary>n" },
    { "win.close", "<Primary>w" },
    { "win.connect", "<Primary>o" },
    { "app.shortcuts", "<Primary>question" },
    { "win.disconnect", "<Primary>d" },
    { "win.get-time", "<Primary>t" },
    { "win.get-name", "<Primary>h" },
    { "win.list-clients", "<Primary>l" },
    { "win.search", "<Primary>f" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    {
      const char *list[] = { accels[i].accel, NULL };

      gtk_application_set_accels_for_action (app, accels[i].action, list);
    }
}

static void
load_css (void)
{
  g_autoptr (GtkCssProvider) provider = gtk_css_provider_new ();
  GdkScreen *screen = gdk_screen_get_default ();

  gtk_css_provider_load_from_resource (provider,
                                       "/io/github/sockchat/SockChat/ui/"
                                       "style.css");
  if (screen)
    gtk_style_context_add_provider_for_screen (
      screen, GTK_STYLE_PROVIDER (provider),
      GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
}

static void
sc_application_startup (GApplication *app)
{
  G_APPLICATION_CLASS (sc_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_entries,
                                   G_N_ELEMENTS (app_entries), app);
  set_accels (GTK_APPLICATION (app));
  sc_window_ensure_resources ();
  load_css ();
}

static ScWindow *
open_window (ScApplication *self)
{
  ScWindow *window = sc_window_new (GTK_APPLICATION (self));
  const char *script = g_getenv ("SOCKCHAT_DEMO_SCRIPT");

  /* Test-only: scripted actions for data/screenshots/take.sh. */
  if (script && *script)
    sc_window_run_demo_script (window, script);
  return window;
}

static void
sc_application_activate (GApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  if (window == NULL)
    window = GTK_WINDOW (open_window (SC_APPLICATION (app)));
  gtk_window_present (window);
}

/* Every invocation opens a window, so running sockchat twice gives two
 * clients to talk between. */
static int
sc_application_command_line (GApplication *app,
                             GApplicationCommandLine *command_line)
{
  GVariantDict *options =
    g_application_command_line_get_options_dict (command_line);
  ScWindow *window = open_window (SC_APPLICATION (app));
  const char *host = NULL, *nickname = NULL;
  gint32 port = 0;
  gboolean connect = FALSE;
  gboolean tls = FALSE;

  g_variant_dict_lookup (options, "host", "&s", &host);
  if (g_variant_dict_lookup (options, "tls", "b", &tls) && tls)
    sc_window_set_tls (window, TRUE);
  g_variant_dict_lookup (options, "nickname", "&s", &nickname);
  g_variant_dict_lookup (options, "connect", "b", &connect);
  if (g_variant_dict_lookup (options, "port", "i", &port) &&
      (port < 1 || port > 65535))
    {
      g_application_command_line_printerr (
        command_line, _ ("Invalid port %d: use 1 to 65535\n"), port);
      gtk_widget_destroy (GTK_WIDGET (window));
      return 2;
    }
  sc_window_set_server (window, host, (guint) port, nickname);
  gtk_window_present (GTK_WINDOW (window));
  if (connect)
    sc_window_connect (window);
  return 0;
}

/* --version is answered by the launching process, without a window. */
static int
sc_application_handle_local_options (GApplication *app, GVariantDict *options)
{
  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("sockchat %s\n", PACKAGE_VERSION);
      return 0;
    }
  return -1;
}

ScApplication *
sc_application_new (const char *application_id, GApplicationFlags flags)
{
  g_return_val_if_fail (g_application_id_is_valid (application_id), NULL);

  return g_object_new (SC_TYPE_APPLICATION, "application-id", application_id,
                       "flags", flags, NULL);
}

/* The application is going: the shortcuts window goes with it. */
static void
sc_application_shutdown (GApplication *app)
{
  ScApplication *self = SC_APPLICATION (app);

  if (self->shortcuts)
    {
      gtk_widget_destroy (self->shortcuts);
      g_clear_object (&self->shortcuts);
    }
  G_APPLICATION_CLASS (sc_application_parent_class)->shutdown (app);
}

static void
sc_application_class_init (ScApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->shutdown = sc_application_shutdown;
  app_class->startup = sc_application_startup;
  app_class->activate = sc_application_activate;
  app_class->command_line = sc_application_command_line;
  app_class->handle_local_options = sc_application_handle_local_options;
}

static void
sc_application_init (ScApplication *self)
{

  g_application_add_main_option_entries (G_APPLICATION (self), option_entries);
  g_application_set_option_context_summary (
    G_APPLICATION (self), _ ("Chat with the clients of a SockChat server."));
}
