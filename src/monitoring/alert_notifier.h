// The HTTP side of alert notifications: one JSON POST to a receiver, and
// the bodies Alertmanager's v2 API and JSON webhooks expect.
//
// Alertmanager: POST <url>/api/v2/alerts with a list of
// {labels, annotations, startsAt, endsAt, generatorURL}. Webhooks get the
// body Alertmanager's own webhooks send (version "4", status, receiver,
// groupLabels, commonLabels, commonAnnotations, externalURL, alerts), plus
// the transition's idempotency_key (also in the Idempotency-Key header).
// Header values are never logged or returned in errors. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "monitoring/alert_store.h"

namespace slipway::monitoring {

// POSTs `body` (JSON) to `url` + `path`; "" on a 2xx answer, else what
// went wrong (the status and the start of the answer, or the connection
// failure).
std::string PostJson(const std::string& url, const std::string& path, const std::string& body,
                     const std::map<std::string, std::string>& headers,
                     std::chrono::milliseconds timeout);

// One alert as Alertmanager's v2 API takes it; `ends_at_ms` 0 leaves endsAt out.
std::string AlertmanagerBody(const AlertTransition& transition, int64_t ends_at_ms,
                             const std::string& generator_url);
std::string WebhookBody(const AlertTransition& transition, const std::string& receiver,
                        const std::string& external_url, const std::string& generator_url);

}  // namespace slipway::monitoring
