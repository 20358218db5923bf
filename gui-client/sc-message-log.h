/* sc-message-log.h: the message log, a read-only GtkTextView that takes
 * lines in bursts, keeps a bounded number of them and updates the
 * delivery state of sent messages in place. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum
{
  SC_LOG_SYSTEM,   /* connected, joined, left, disconnected */
  SC_LOG_RESPONSE, /* answers to time, name and list requests */
  SC_LOG_INCOMING, /* messages from other clients */
  SC_LOG_ERROR,    /* failed requests */
} ScLogKind;

#define SC_TYPE_MESSAGE_LOG (sc_message_log_get_type ())
G_DECLARE_FINAL_TYPE (
  ScMessageLog, sc_message_log, SC, MESSAGE_LOG, GtkTextView)

GtkWidget *sc_message_log_new (void);
void sc_message_log_append (ScMessageLog *self,
                            ScLogKind kind,
                            const char *who,
                            const char *text);
void sc_message_log_append_at (ScMessageLog *self,
                               ScLogKind kind,
                               const char *who,
                               const char *text,
                               gint64 time_us,
                               const char *state,
                               gboolean failed);
gboolean sc_message_log_prepend_at (ScMessageLog *self,
                                    ScLogKind kind,
                                    const char *who,
                                    const char *text,
                                    gint64 time_us,
                                    const char *state,
                                    gboolean failed);
gboolean sc_message_log_prepend_note (ScMessageLog *self,
                                      const char *text,
                                      gint64 time_us);
guint sc_message_log_get_older_room (ScMessageLog *self);
void sc_message_log_drop_older (ScMessageLog *self);
void sc_message_log_mark_unread (ScMessageLog *self);
void sc_message_log_clear_unread_mark (ScMessageLog *self);
gboolean sc_message_log_get_has_unread_mark (ScMessageLog *self);
guint sc_message_log_search (ScMessageLog *self, const char *needle);
gboolean sc_message_log_search_step (ScMessageLog *self, gboolean older);
gboolean sc_message_log_search_show_oldest (ScMessageLog *self);
int sc_message_log_get_match_line (ScMessageLog *self);
guint sc_message_log_append_sent (ScMessageLog *self,
                                  const char *to,
                                  const char *text);
void sc_message_log_sent_accepted (ScMessageLog *self,
                                   guint handle,
                                   guint64 message_id,
                                   guint n_recipients);
void sc_message_log_sent_failed (ScMessageLog *self,
                                 guint handle,
                                 const char *reason);
void sc_message_log_receipt (ScMessageLog *self,
                             guint64 message_id,
                             gboolean delivered,
                             const char *reason);
void sc_message_log_abandon_pending (ScMessageLog *self, const char *reason);
void sc_message_log_flush (ScMessageLog *self);
void sc_message_log_scroll_to_end (ScMessageLog *self);
gboolean sc_message_log_get_has_unseen (ScMessageLog *self);
guint sc_message_log_get_n_queued (ScMessageLog *self);
guint64 sc_message_log_get_n_gone (ScMessageLog *self);
guint sc_message_log_get_n_lines (ScMessageLog *self);
guint sc_message_log_get_max_lines (ScMessageLog *self);
void sc_message_log_set_max_lines (ScMessageLog *self, guint max_lines);

/* Colours: the tags and WCAG contrast, for the contrast test. */
guint sc_message_log_get_n_tags (ScMessageLog *self);
GtkTextTag *sc_message_log_get_tag (ScMessageLog *self, guint index);
double sc_message_log_luminance (const GdkRGBA *color);
double sc_message_log_contrast (const GdkRGBA *a, const GdkRGBA *b);

G_END_DECLS
