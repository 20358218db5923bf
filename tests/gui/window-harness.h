/* window-harness.h: what the tests of the desktop client's window share.
 * Each test-window*.c / test-conversations.c file holds the tests of one
 * theme and is its own executable; this is the fixture (an in-process
 * server on 127.0.0.1:0 and two real ScWindows of one application), a
 * stand-in notification daemon on the session bus, the waiting helpers
 * and the ways a test drives a window: its buttons, its keys and its
 * private fields (sc-window-private.h).
 *
 * Every wait runs the main loop until a condition holds and fails the
 * test after a deadline naming what it waited for.  The tests need a
 * display (Xvfb in CI); without one window_test_main() says so and
 * every test is skipped. */
#pragma once

#include "sc-application.h"
#include "sc-server.h"
#include "sc-window-private.h"

G_BEGIN_DECLS

#define WAIT_MS 10000

/* ------------------------------------------------------------------ */
/* The process's state, set up by window_test_main() */

/* gtk_init_check() found a display; without one the fixture does
 * nothing and SKIP_WITHOUT_DISPLAY() skips the test. */
extern gboolean have_display;

/* One application for the whole run: GTK 3 cannot register a second
 * GtkApplication on the session bus in the same process (the second
 * g_application_register() fails a GIO assertion), so the tests share
 * one with an id unique to this process. */
extern ScApplication *app;

/* The session bus, held open (GIO holds its singleton weakly); NULL
 * without a session bus, and then nothing notifies at all. */
extern GDBusConnection *bus;

/* What the stand-in notification daemon was asked: Notify calls,
 * CloseNotification calls and the last notification as
 * "summary|body".  Tests read them, and may reset the counts. */
extern guint n_notifications;
extern guint n_closed_notifications;
extern char *last_notification;

/* ------------------------------------------------------------------ */
/* Waiting */

typedef gboolean (*Condition) (gpointer data);

/* Runs the main loop until @condition holds; fails after @timeout_ms. */
void wait_for_ms (Condition condition,
                  gpointer data,
                  const char *what,
                  guint timeout_ms);

/* The same within WAIT_MS. */
void wait_for (Condition condition, gpointer data, const char *what);

/* The text of the window's All activity log, flushed first. */
char *log_text (ScWindow *window);

/* A window and a string; also used by conditions on labels and titles. */
typedef struct
{
  ScWindow *window;
  const char *needle;
} LogQuery;

void wait_for_log (ScWindow *window, const char *needle);

/* Conditions on a window (@data is the ScWindow). */
gboolean is_connected (gpointer data);
gboolean is_disconnected (gpointer data);

typedef struct
{
  ScWindow *window;
  guint32 id;
} ClientQuery;

/* @data is a ClientQuery: the id is in the window's client list. */
gboolean client_listed (gpointer data);

/* Each message the client receives adds one to *@n_received; connect it
 * with g_signal_connect_swapped() to "message-received". */
void count_received (guint *n_received);

/* ------------------------------------------------------------------ */
/* Driving a window */

typedef struct
{
  ScServer *server;
  ScServerConfig *config;
  guint16 port;
  ScApplication *app;
  ScWindow *windows[2];
  /* With FIXTURE_TLS: the server's TLS port, and the folder that holds
   * its self-signed certificate and key (config->tls_cert, tls_key). */
  guint16 tls_port;
  char *folder;
} Fixture;

/* What a test asks of its fixture, given as the test's data. */
typedef struct
{
  gboolean tls; /* the server also listens for TLS */
} FixtureOptions;

extern const FixtureOptions FIXTURE_TLS;

gboolean action_enabled (ScWindow *window, const char *name);

/* Connects @window to the fixture's server and checks the status line;
 * @nickname NULL keeps the default. */
void connect_window (Fixture *fixture, ScWindow *window, const char *nickname);

/* Selects @id's row in @window's client list, as a click would. */
void select_client (ScWindow *window, guint32 id);

/* The people in the window's client list. */
guint n_rows (ScWindow *window);

/* The log of the conversation the window shows. */
GtkWidget *visible_log (ScWindow *window);

/* A key press as the composer gets it from the keyboard. */
void send_key (GtkWidget *widget, guint keyval, GdkModifierType state);

void press_enter (ScWindow *window);

void assert_composer (ScWindow *window, const char *expected);

/* ------------------------------------------------------------------ */
/* The fixture: a server of its own and two windows, mapped and drawn;
 * without a display it does nothing.  @data is NULL or the test's
 * FixtureOptions. */

void fixture_setup (Fixture *fixture, gconstpointer data);

void fixture_teardown (Fixture *fixture, gconstpointer data);

/* @data is the Fixture: each of its windows is mapped and laid out. */
gboolean windows_drawn (gpointer data);

typedef void (*WindowTestFunc) (Fixture *fixture, gconstpointer data);

/* Registers @test at @path with the fixture. */
void window_test_add (const char *path, WindowTestFunc test);

/* The same with @options (not copied: a static). */
void window_test_add_full (const char *path,
                           WindowTestFunc test,
                           const FixtureOptions *options);

#define SKIP_WITHOUT_DISPLAY()                                        \
  G_STMT_START                                                        \
  {                                                                   \
    if (!have_display)                                                \
      {                                                               \
        g_test_skip ("no display: set DISPLAY (run under xvfb-run)"); \
        return;                                                       \
      }                                                               \
  }                                                                   \
  G_STMT_END

/* ------------------------------------------------------------------ */
/* main() */

/* Everything a test program's main() does: g_test_init() with isolated
 * directories, SIGPIPE ignored, the quiet log writer, GTK, the
 * notification daemon and the application; then @add_tests registers
 * the program's tests, and they run.  Returns g_test_run()'s status. */
int window_test_main (int argc, char *argv[], void (*add_tests) (void));

G_END_DECLS
