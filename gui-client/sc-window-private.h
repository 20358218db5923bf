/* sc-window-private.h: ScWindow's instance struct, shared by sc-window.c
 * (life cycle, the core's signals, status and reconnecting),
 * sc-window-actions.c (the seven actions) and sc-window-compose.c (the
 * composer: recipient, hints, sending).  Tests include it to reach the
 * template children. */
#pragma once

#include <handy.h>

#include "sc-client-list.h"
#include "sc-client.h"
#include "sc-conversations.h"
#include "sc-history.h"
#include "sc-tls-status.h"
#include "sc-message-log.h"
#include "sc-window.h"

G_BEGIN_DECLS

struct _ScWindow
{
  GtkApplicationWindow parent_instance;

  /* Template children. */
  GtkHeaderBar *header_bar;
  GtkMenuButton *menu_button;
  GtkInfoBar *info_bar;
  GtkLabel *info_label;
  GtkButton *reconnect_button;
  GtkButton *close_info_button;
  GtkEntry *host_entry;
  GtkSpinButton *port_spin;
  GtkEntry *nick_entry;
  GtkEntry *password_entry;
  GtkButton *connect_button;
  GtkButton *disconnect_button;
  GtkButton *time_button;
  GtkButton *name_button;
  GtkButton *list_button;
  GtkButton *send_button;
  GtkButton *quit_button;
  HdyLeaflet *leaflet;
  GtkWidget *sidebar;
  GtkWidget *content;
  GtkToggleButton *clients_toggle;
  GtkTreeView *client_view;
  ScClientList *client_list;
  GtkStack *log_stack;
  ScMessageLog *log; /* All activity: every line, the lab's single log */
  GtkSearchBar *search_bar;
  GtkSearchEntry *search_entry;
  GtkLabel *search_label;
  GtkButton *search_older_button;
  GtkButton *jump_button;
  GtkLabel *recipient_label;
  GtkCheckButton *broadcast_check;
  GtkTextView *message_view;
  GtkLabel *compose_hint;
  GtkSpinner *spinner;
  GtkLabel *status_label;
  GtkLabel *rtt_label;

  GSettings *settings;
  ScTlsStatus *tls_status; /* TLS check box, lock, first-use bar */
  ScClient *client;
  ScConversations *conversations;
  ScHistory *history;     /* NULL while history is off or unavailable */
  char *history_server;   /* "host:port" of the last connection */
  GBinding *jump_binding; /* the jump button follows the visible log */
  /* The search in the visible log (sc-window-search.c): matches in it,
   * and matches further back in history, counted in a worker thread. */
  guint search_n_in_view;
  guint search_n_older;
  gint64 search_older_row;      /* the newest older match's row; 0 unknown */
  gboolean search_older_wanted; /* asked for while counting */
  GCancellable *search_cancellable; /* the count under way */
  char *search_counted;             /* what the last count was asked */
  /* The Everyone row is selected: the composer broadcasts. */
  gboolean everyone_selected;
  GCancellable *cancellable;

  /* The server of the last connection attempt, for reconnecting. */
  char *target_host;
  guint16 target_port;
  char *target_nickname;
  char *shutdown_reason; /* set by ::server-shutdown until disconnected */

  /* Who the composer sends to when Broadcast is off: a person picked in
   * the list (see sc-window-compose.c), or NULL. */
  ScPeer *recipient;

  guint retry_attempt;
  guint retry_source;
  guint retry_tick_source; /* counts the wait down in the info bar */
  gint64 retry_at;         /* monotonic time of the next attempt */
  char *retry_why;

  /* Coalesced notifications, one per conversation: key -> PendingNote,
   * sent by notify_source. */
  GHashTable *pending_notes;
  guint notify_source;
  gint64 last_notified;

  GQueue demo_steps;
  guint demo_source;
};

/* sc-window-actions.c */
void sc_window_actions_install (ScWindow *self);
void sc_window_actions_update (ScWindow *self);
void sc_window_request_list (ScWindow *self, gboolean show_in_log);
void sc_window_demo_clear (ScWindow *self);
void sc_window_rename (ScWindow *self);

/* sc-window-compose.c */
void sc_window_compose_update (ScWindow *self);
char *sc_window_compose_get_text (ScWindow *self);
void sc_window_compose_set_text (ScWindow *self, const char *text);
void sc_window_compose_send (ScWindow *self);
void sc_window_set_recipient (ScWindow *self, const ScPeer *peer);

/* sc-window-history.c */
void sc_window_history_init (ScWindow *self);
void
sc_window_history_set_server (ScWindow *self, const char *host, guint16 port);
void sc_window_history_record (ScWindow *self,
                               const char *key,
                               ScHistoryKind kind,
                               const char *nickname,
                               guint32 sender_id,
                               const char *text,
                               guint64 message_id,
                               gboolean failed);
void
sc_window_history_receipt (ScWindow *self, guint64 message_id, gboolean ok);
void sc_window_history_cleared (ScWindow *self);
gint64 sc_window_history_get_first_row (ScWindow *self, ScMessageLog *log);
void sc_window_history_show_older (ScWindow *self,
                                   const char *key,
                                   ScMessageLog *log,
                                   gint64 match_row);

/* sc-window-search.c */
void sc_window_search_class_init (GtkWidgetClass *widget_class);
void sc_window_search_init (ScWindow *self);
void sc_window_search_refresh (ScWindow *self);
void sc_window_search_dispose (ScWindow *self);

/* sc-window.c */
void sc_window_ensure_resources (void);
void sc_window_log (ScWindow *self,
                    const char *key,
                    ScLogKind kind,
                    const char *who,
                    const char *text);
void sc_window_show_conversation (ScWindow *self, const char *key);
void sc_window_start_connect (ScWindow *self,
                              const char *host,
                              guint16 port,
                              const char *nickname,
                              gboolean retrying);
void sc_window_cancel_retry (ScWindow *self);
void sc_window_use_password (ScWindow *self);
void sc_window_show_info (ScWindow *self,
                          GtkMessageType type,
                          gboolean offer_reconnect,
                          const char *text);
void sc_window_hide_info (ScWindow *self);

G_END_DECLS
