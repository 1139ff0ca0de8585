package dev.anvil.serving.series;

import dev.anvil.resilience.CircuitBreakers;
import dev.anvil.serving.ModelRuntimes;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.ConcurrencyManagement;
import jakarta.ejb.ConcurrencyManagementType;
import jakarta.ejb.EJB;
import jakarta.ejb.Singleton;
import jakarta.ejb.Startup;
import jakarta.ejb.Timeout;
import jakarta.ejb.TimerConfig;
import jakarta.ejb.TimerService;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Samples every loaded version into {@link ServingTimeSeries} once per {@code anvil.serving.timeseries.interval-seconds},
 * in a non-persistent EJB timer (each node samples its own runtimes).
 */
@Startup
@Singleton
@ConcurrencyManagement(ConcurrencyManagementType.BEAN)
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
@PermitAll
public class ServingSampler {

    private static final Logger LOG = Logger.getLogger(ServingSampler.class.getName());

    @Resource
    TimerService timers;

    @EJB
    ModelRuntimes runtimes;

    @Inject
    ServingTimeSeries series;

    @Inject
    TimeSeriesConfig config;

    @Inject
    CircuitBreakers breakers;

    @PostConstruct
    void start() {
        long every = config.intervalSeconds() * 1000L;
        timers.createIntervalTimer(every, every, new TimerConfig("anvil-serving-timeseries", false));
    }

    @Timeout
    void sample() {
        try {
            series.sample(
                    runtimes.allRuntimes(),
                    r -> runtimes.serving(r.served().name()) == r,
                    m -> breakers.stateOf(m.ref()),
                    System.currentTimeMillis());
        } catch (RuntimeException e) {
            // A sample is worth little; the timer must survive to take the next one.
            LOG.log(Level.WARNING, "serving time series sample failed", e);
        }
    }
}
