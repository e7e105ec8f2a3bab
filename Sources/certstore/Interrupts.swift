import CertStore
import Dispatch
import Foundation

/// While a long operation runs, SIGINT (Ctrl-C) and SIGTERM cancel it at its next safe point instead of killing
/// the process mid-write: the library then removes what it staged and says what was and was not done.
final class Interrupts {
    private var sources: [DispatchSourceSignal] = []
    private let signals: [Int32] = [SIGINT, SIGTERM]

    init(cancelling cancellation: Cancellation) {
        for number in signals {
            signal(number, SIG_IGN)  // delivered to the dispatch source instead of ending the process
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if !cancellation.isCancelled {
                    Terminal.err("\n\(number == SIGINT ? "interrupted" : "terminated"): stopping at the next file; nothing staged so far will stay")
                }
                cancellation.cancel(signal: number)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Back to the default: a signal ends the process again.
    func stop() {
        for source in sources { source.cancel() }
        sources = []
        for number in signals { signal(number, SIG_DFL) }
    }

    deinit { stop() }
}
