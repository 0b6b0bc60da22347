// The simulated world around the nodes: open-loop clients, the network between nodes (latency,
// loss, duplication, reordering, partitions), the backends' service, and fault windows.

import PlatformCore

extension Simulator {
    func scheduleArrival(stream index: Int, after time: Int64) {
        let stream = scenario.workload[index]
        let mean = Duration(nanoseconds: 1_000_000_000 / stream.requestsPerSecond)
        let next = time + max(workloadRandom[index].exponential(mean: mean).nanoseconds, 1)
        let end = (stream.end ?? scenario.duration).nanoseconds
        if next < min(end, scenario.duration.nanoseconds) { queue.schedule(at: next, .arrival(stream: index)) }
    }

    func arrive(stream index: Int) {
        let stream = scenario.workload[index]
        nextRequest += 1
        let id = RequestID(nextRequest)
        record(node: NodeLayout.client, kind: 0, id: id.value)
        var random = workloadRandom[index]
        let sticky: UInt64 = random.chance(stream.sticky) ? 1 + random.below(UInt64(stream.stickyKeys)) : 0
        let invalid = random.chance(stream.invalid)
        workloadRandom[index] = random
        let credential = streamCredentials[index]
        let request = InferenceRequest(
            id: id, credential: credential, model: ModelID(stream.model), version: stream.version,
            stickyKey: sticky == 0 ? 0 : StableHasher.hash("user-\(sticky)"),
            inputElements: invalid ? 0 : stream.inputElements, timeout: stream.timeout)
        let timeout = stream.timeout == .zero ? scenario.defaultTimeout : stream.timeout
        let deadline = now + timeout.nanoseconds
        oracles.client.sent(
            id.value,
            ClientRecord(
                sentAt: now, deadline: deadline, key: Int32(stream.key),
                version: Int32(stream.version), answered: false, stickyKey: request.stickyKey,
                authExpect: authExpectation(stream)),
            sweepAt: deadline + scenario.responseSlack.nanoseconds + 1_000_000)
        let gateway = nextGateway
        nextGateway = (nextGateway + 1) % scenario.gateways
        send(.request(request), from: NodeLayout.client, to: layout.gateway(gateway))
        scheduleArrival(stream: index, after: now)
    }

    func clientReceived(_ response: InferenceResponse) {
        switch oracles.client.answer(response.id.value, at: now, slack: scenario.responseSlack.nanoseconds) {
        case .unknown, .duplicate:
            oracles.violate("exactly-one-response", at: now, "\(response.id) answered more than once")
        case .late(let record):
            oracles.violate(
                "response-by-deadline", at: now,
                "\(response.id) answered at \(JSONSeconds.format(now)), deadline "
                    + "\(JSONSeconds.format(record.deadline)) + slack"
            )
            countResponse(response, record)
        case .onTime(let record): countResponse(response, record)
        }
    }

    func countResponse(_ response: InferenceResponse, _ record: ClientRecord) {
        if record.authExpect != 0 { checkAuthentication(response, record) }
        var error: ErrorKind?
        if case .failed(let kind, _) = response.outcome {
            error = kind
            if kind == .timeout { oracles.hit(.requestTimedOut) }
            if kind == .unavailable { oracles.hit(.requestUnavailable) }
        }
        if scenario.canary != nil {
            let failed = error == .unavailable || error == .timeout
            oracles.rolloutAnswered(version: record.routedVersion, failed: failed)
        }
        metrics.recordResponse(
            at: now, latency: now - record.sentAt, key: Int(record.key), error: error,
            recoveredPhase: record.sentAt >= recoveredFrom)
    }

    /// A valid credential is never refused with 401; a forged, expired or retired one always is.
    func checkAuthentication(_ response: InferenceResponse, _ record: ClientRecord) {
        var refused = false
        if case .failed(.unauthorized, _) = response.outcome { refused = true }
        if record.authExpect == 1 && refused {
            oracles.violate(
                "authentication", at: now,
                "\(response.id), sent at \(JSONSeconds.format(record.sentAt)) with a valid credential of key "
                    + "\(scenario.keys[Int(record.key)].name), was refused with 401")
        } else if record.authExpect == 2 && !refused {
            oracles.violate(
                "authentication", at: now,
                "\(response.id), sent at \(JSONSeconds.format(record.sentAt)) with a forged, expired or retired "
                    + "credential of key \(scenario.keys[Int(record.key)].name), passed authentication")
        } else if refused {
            oracles.hit(.credentialRefused)
        }
    }

    func sweep(upTo time: Int64) {
        var missing: [(UInt64, ClientRecord)] = []
        oracles.client.sweep(upTo: time) { id, record in missing.append((id, record)) }
        for (id, record) in missing {
            oracles.violate(
                "exactly-one-response", at: min(time, horizon),
                "req#\(id) sent at \(JSONSeconds.format(record.sentAt)) never answered (deadline "
                    + "\(JSONSeconds.format(record.deadline)))"
            )
        }
    }

    func backendReceived(_ call: BackendCall, backend index: Int, from: Int) {
        switch backends[index].admit(call.call, replyTo: from) {
        case .start(let service):
            queue.schedule(
                at: now + service,
                .serviceDone(
                    backend: index, epoch: backends[index].epoch,
                    call: call.call, replyTo: from))
        case .queued, .dropped: break
        case .refused:
            oracles.hit(.backendOverloaded)
            send(.callReply(BackendReply(call: call.call, failure: .overloaded)), from: layout.backend(index), to: from)
        case .connectionRefused:
            send(
                .callReply(BackendReply(call: call.call, failure: .connectionFailed)), from: layout.backend(index),
                to: from)
        }
    }

    /// Puts a message on the wire: partitions and loss drop it, latency delays it, reordering
    /// holds some back, duplication sends a second copy.
    func send(_ message: Message, from: Int, to: Int, after processing: Int64 = 0) {
        let (first, second) = transmit(from: from, to: to, after: processing)
        if first >= 0 { queue.schedule(at: first, .deliver(from: from, to: to, message)) }
        if second >= 0 { queue.schedule(at: second, .deliver(from: from, to: to, message)) }
    }

    /// Puts a batch-path message on the wire, under the same network as every other message.
    /// The message moves into the queue's delivery slab; only a duplicate costs a copy.
    func send(_ message: consuming BatchMessage, from: Int, to: Int, after processing: Int64 = 0) {
        let (first, second) = transmit(from: from, to: to, after: processing)
        guard second >= 0 else {
            if first >= 0 { queue.scheduleDelivery(at: first, from: from, to: to, message) }
            return
        }
        if first >= 0 { queue.scheduleDelivery(at: first, from: from, to: to, copy message) }
        queue.scheduleDelivery(at: second, from: from, to: to, message)
    }

    /// When a message sent now from `from` to `to` arrives, and when its duplicate does (-1: never).
    func transmit(from: Int, to: Int, after processing: Int64) -> (first: Int64, second: Int64) {
        let link = from * layout.count + to
        let processing = processing + linkDelay[link]
        if partitions[link] > 0 {
            oracles.hit(.networkDropped)
            return (-1, -1)
        }
        let network = scenario.network
        let betweenNodes = from != NodeLayout.client && to != NodeLayout.client
        if betweenNodes {
            let loss = max(network.loss.partsPerMillion, linkLoss[link])
            if loss > 0 && networkRandom.chance(Ratio(partsPerMillion: loss)) {
                oracles.hit(.networkDropped)
                return (-1, -1)
            }
        }
        var deliverAt = now + processing + latency(betweenNodes: betweenNodes)
        if from == layout.broker || to == layout.broker {
            // One TCP connection per client: the broker's messages arrive in the order they were sent.
            deliverAt = max(deliverAt, linkLastDelivery[link])
            linkLastDelivery[link] = deliverAt
        }
        guard betweenNodes && network.duplication.partsPerMillion > 0 && networkRandom.chance(network.duplication)
        else {
            return (deliverAt, -1)
        }
        oracles.hit(.networkDuplicated)
        return (deliverAt, now + processing + latency(betweenNodes: true))
    }

    func latency(betweenNodes: Bool) -> Int64 {
        let network = scenario.network
        var delay = (network.latencyBase + networkRandom.exponential(mean: network.latencyMeanExtra)).nanoseconds
        if betweenNodes && network.reorder.partsPerMillion > 0 && networkRandom.chance(network.reorder) {
            oracles.hit(.networkReordered)
            delay += networkRandom.between(0, network.reorderDelayMax.nanoseconds)
        }
        return max(delay, 1)
    }

    func applyFault(_ index: Int, starting: Bool) {
        let fault = scenario.faults[index]
        switch fault.kind {
        case .crash:
            if starting { backends[fault.backend].crash() } else { backends[fault.backend].crashed = false }
        case .hang:
            if starting { backends[fault.backend].hang() } else { backends[fault.backend].hung = false }
        case .slowdown: backends[fault.backend].slowdownFactor = starting ? fault.factor : 1
        case .errors:
            backends[fault.backend].errorRate = starting ? fault.rate : scenario.backends[fault.backend].errorRate
        case .storeOutage, .storeSlow, .objectStoreErrors, .workerCrash, .workerShutdown, .rebalance:
            applyBatchFault(fault, starting: starting)
        case .limiterOutage: limiterDownSince = starting ? now : -1
        case .registryOutage: registry!.down = starting
        case .partition, .loss, .delay:
            let forward = fault.nodes.0 * layout.count + fault.nodes.1
            let backward = fault.nodes.1 * layout.count + fault.nodes.0
            if fault.kind == .delay {
                linkDelay[forward] = starting ? fault.delay.nanoseconds : 0
                linkDelay[backward] = starting ? fault.delay.nanoseconds : 0
            } else if fault.kind == .partition {
                partitions[forward] += starting ? 1 : -1
                partitions[backward] += starting ? 1 : -1
            } else {
                linkLoss[forward] = starting ? fault.rate.partsPerMillion : 0
                linkLoss[backward] = starting ? fault.rate.partsPerMillion : 0
            }
        }
    }
}
