// A small order service with two problems, recorded with Java Flight Recorder.
//
// Standard library only (JDK 17): run it with the source launcher,
//   java -XX:+UseSerialGC -Xmx768m -XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints \
//       datasets/generators/java-service/JavaService.java OUT_DIR WINDOWS WINDOW_MS SEED
// (DebugNonSafepoints: CPU samples name the method that runs, not the nearest safepoint.)
// Each window is recorded by its own jdk.jfr.Recording (CPU samples every 10 ms, throttled
// allocation samples, live-object samples) and dumped to OUT_DIR/window-NN.jfr, with a line
// of index.csv per window.
//
// The problems: PricingEngine.applyPromotions burns most of the CPU (a naive rule scan per
// order line), and SessionStore.remember keeps every session's buffer forever (a static list
// that is never evicted), so its objects pile up among the live ones while the
// per-request garbage (Receipt.render) dies young.
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import jdk.jfr.Recording;

public class JavaService {
    static final class PricingEngine {
        static double applyPromotions(double[] prices) {
            double total = 0;
            for (double listed : prices) {
                double price = listed;
                for (int rule = 0; rule < 4000; rule++) { // every rule checked for every line
                    price = ruleDiscount(rule, price);
                }
                total += price;
            }
            return total;
        }

        static double ruleDiscount(int rule, double price) {
            return price * (1.0 - Math.sin(rule * 0.001 + price) * 1e-6);
        }
    }

    static final class SessionStore {
        private static final List<byte[]> SESSIONS = new ArrayList<>(); // never evicted: the leak

        static void remember(long orderId) {
            byte[] session = new byte[32768];
            session[0] = (byte) orderId;
            SESSIONS.add(session);
        }

        static int size() {
            return SESSIONS.size();
        }
    }

    static final class Receipt {
        static int render(long orderId, double total) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 20; i++) {
                sb.append("order ").append(orderId).append(" line ").append(i).append(' ').append(total);
            }
            byte[] pdf = new byte[65536]; // short-lived garbage
            pdf[0] = (byte) sb.length();
            return pdf.length + sb.length();
        }
    }

    static double sink;

    static void handle(long orderId, Random rnd) {
        double[] prices = new double[3 + rnd.nextInt(4)];
        for (int i = 0; i < prices.length; i++) {
            prices[i] = 5 + rnd.nextInt(200);
        }
        double total = PricingEngine.applyPromotions(prices);
        sink += Receipt.render(orderId, total);
        SessionStore.remember(orderId);
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        Path out = Path.of(args[0]);
        int windows = Integer.parseInt(args[1]);
        long windowMs = Long.parseLong(args[2]);
        Random rnd = new Random(Long.parseLong(args[3]));
        Files.createDirectories(out);
        long orderId = 0;
        try (PrintWriter index = new PrintWriter(Files.newBufferedWriter(out.resolve("index.csv")))) {
            index.println("file,start_time,service,window,n_orders,n_sessions");
            for (int w = 0; w < windows; w++) {
                long orders = 0;
                try (Recording rec = new Recording()) {
                    rec.setToDisk(true);
                    rec.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(10));
                    rec.enable("jdk.ObjectAllocationSample").with("throttle", "200/s");
                    rec.enable("jdk.OldObjectSample").withStackTrace().with("cutoff", "0 ns");
                    rec.start();
                    Instant start = Instant.now(); // after start(): the first one loads JFR
                    long end = System.nanoTime() + windowMs * 1_000_000L;
                    while (System.nanoTime() < end) {
                        handle(orderId++, rnd);
                        orders++;
                    }
                    System.gc(); // live-object samples are emitted for objects that survived a GC
                    rec.stop();
                    String name = String.format("window-%02d.jfr", w);
                    rec.dump(out.resolve(name));
                    index.printf("%s,%s,java-service,%d,%d,%d%n", name, start, w, orders,
                            SessionStore.size());
                }
                System.out.printf("window %d: %d orders, %d sessions kept, sink %.1f%n", w, orders,
                        SessionStore.size(), sink);
            }
        }
    }
}
