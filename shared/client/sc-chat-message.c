/* sc-chat-message.c: ScChatMessage, a message as the client core reports
 * it. */
#include "config.h"

#include "sc-chat-message.h"

G_DEFINE_BOXED_TYPE (ScChatMessage,
                     sc_chat_message,
                     sc_chat_message_copy,
                     sc_chat_message_free)

ScChatMessage *
sc_chat_message_new (guint64 id,
                     const ScPeer *sender,
                     const char *text,
                     gboolean broadcast,
                     gint64 sent_ms)
{
  ScChatMessage *message;

  g_return_val_if_fail (sender != NULL, NULL);
  message = g_new0 (ScChatMessage, 1);
  message->id = id;
  message->sender = sc_peer_copy (sender);
  message->text = g_strdup (text ? text : "");
  message->broadcast = broadcast;
  message->sent_ms = sent_ms;
  return message;
}

ScChatMessage *
sc_chat_message_copy (const ScChatMessage *message)
{
  g_return_val_if_fail (message != NULL, NULL);
  return sc_chat_message_new (message->id, message->sender, message->text,
                              message->broadcast, message->sent_ms);
}

void
sc_chat_message_free (ScChatMessage *message)
{
  if (message == NULL)
    return;
  sc_peer_free (message->sender);
  g_free (message->text);
  g_free (message);
}
