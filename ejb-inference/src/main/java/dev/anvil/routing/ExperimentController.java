package dev.anvil.routing;

import dev.anvil.experiments.ExperimentService;
import dev.anvil.experiments.ExperimentsConfig;
import dev.anvil.experiments.domain.CanaryDecision;
import dev.anvil.experiments.domain.ExperimentStrategy;
import dev.anvil.security.Roles;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.annotation.security.RunAs;
import jakarta.ejb.EJB;
import jakarta.ejb.Singleton;
import jakarta.ejb.Startup;
import jakarta.ejb.Timeout;
import jakarta.ejb.TimerConfig;
import jakarta.ejb.TimerService;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jboss.ejb3.annotation.RunAsPrincipal;

/**
 * The experiment controller, on a container-managed interval timer ({@code anvil.experiments.controller-interval-ms}):
 * each RUNNING CANARY is supervised ({@link ExperimentService#superviseCanary} gathers what its candidate did,
 * {@code Experiment.superviseCanary} decides): rolled back automatically on a guardrail breach (the reason goes into
 * its history, traffic returns to the control at once since a finished experiment routes nothing) or raised to its
 * next step once the candidate has served the minimum sample since the last step; each RUNNING BANDIT gets its
 * Thompson-sampling weights. Nothing is unloaded or cancelled: requests in flight finish where they started.
 *
 * <p>Its changes are made as the administrator {@value #ACTOR} (run-as): {@link ExperimentService} checks the admin
 * role on them as it does for the admin API, and records that principal as their actor.
 */
@Singleton
@Startup
// Each experiment is handled in a transaction of its own: one failing does not undo the others.
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
@RunAs(Roles.ADMIN)
@RunAsPrincipal(ExperimentController.ACTOR)
@PermitAll
public class ExperimentController {

    private static final Logger LOG = Logger.getLogger(ExperimentController.class.getName());
    public static final String ACTOR = "experiment-controller";

    @Resource
    TimerService timers;

    @EJB
    ExperimentService experiments;

    @Inject
    ExperimentsConfig config;

    @PostConstruct
    void schedule() {
        long interval = config.controllerIntervalMs();
        timers.createIntervalTimer(interval, interval, new TimerConfig("anvil-experiment-controller", false));
    }

    @Timeout
    void tick() {
        List<String> canaries;
        List<String> bandits;
        try {
            canaries = experiments.running(ExperimentStrategy.CANARY);
            bandits = experiments.running(ExperimentStrategy.BANDIT);
        } catch (RuntimeException e) {
            LOG.log(Level.FINE, "experiment controller: experiments not readable yet", e);
            return;
        }
        for (String name : canaries) {
            try {
                switch (experiments.superviseCanary(name)) {
                    case CanaryDecision.RolledBack r -> LOG.info(() -> "experiment " + name + ": " + r.reason());
                    case CanaryDecision.SteppedUp up ->
                        LOG.info(() -> "experiment " + name + ": canary " + name + " raised to " + up.to() + "%");
                    case CanaryDecision.Held held -> LOG.fine(() -> "experiment " + name + ": " + held.why());
                    case CanaryDecision.FullRollout full ->
                        LOG.fine(() -> "experiment " + name + ": at full rollout, awaiting completion");
                }
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "experiment controller: canary " + name + " could not be supervised", e);
            }
        }
        for (String name : bandits) {
            try {
                if (experiments.rebalanceIfChanged(name)) LOG.fine(() -> "experiment " + name + ": bandit rebalanced");
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "experiment controller: bandit " + name + " could not be rebalanced", e);
            }
        }
    }
}
