// MQTT over WebSocket for the pages that follow something live (shadows): the same presigned
// URL the MQTT test client uses, one connection per page, closed when the page goes away.

import mqtt, { type MqttClient } from "mqtt";
import type { Api } from "./api";
import type { Settings } from "./session";

/** The broker's WebSocket URL for this page: wss when the page itself came over TLS. */
export function defaultWsUrl(settings: Settings | null): string {
  const host = location.hostname.includes(":") ? `[${location.hostname}]` : location.hostname;
  if (location.protocol === "https:" && settings?.mqtt_wss_port) return `wss://${host}:${settings.mqtt_wss_port}/mqtt`;
  if (settings?.mqtt_ws_port) return `ws://${host}:${settings.mqtt_ws_port}/mqtt`;
  if (settings?.mqtt_wss_port) return `wss://${host}:${settings.mqtt_wss_port}/mqtt`;
  return "";
}

/**
 * Connects with a freshly presigned URL. A presigned URL is good for one attempt, so there is
 * no automatic reconnect: the caller decides (pages reconnect when they are opened again).
 */
export async function connectLive(api: Api, url: string, clientIdPrefix: string): Promise<MqttClient> {
  const signed = await api.presignMqtt(url);
  return mqtt.connect(url, {
    clientId: `${clientIdPrefix}-${Math.random().toString(16).slice(2, 10)}`,
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    transformWsUrl: () => signed,
  });
}
