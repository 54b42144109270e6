package local.cbsp.registry.configindex;

import java.util.ArrayList;
import java.util.List;

import apicurio.common.app.components.config.index.DynamicPropertiesInfoRecorder;
import io.apicurio.common.apps.config.Dynamic;
import io.apicurio.common.apps.config.DynamicConfigPropertyDef;
import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import io.quarkus.arc.deployment.BeanDiscoveryFinishedBuildItem;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.arc.processor.InjectionPointInfo;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.AnnotationTarget;
import org.jboss.jandex.AnnotationValue;
import org.jboss.jandex.DotName;

/**
 * The one build step of Apicurio's config-index extension: every field injected as
 * {@code @ConfigProperty @Dynamic Supplier<T>} (a property the registry lets an admin change at
 * run time) becomes an entry of the {@link DynamicConfigPropertyList} bean that the registry's
 * configuration API serves. The list is made at build time and handed to the runtime recorder.
 */
public class DynamicPropertiesIndexStep {

    private static final DotName CONFIG_PROPERTY = DotName.createSimple(ConfigProperty.class.getName());
    private static final DotName DYNAMIC = DotName.createSimple(Dynamic.class.getName());

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    void indexDynamicProperties(DynamicPropertiesInfoRecorder recorder, BeanDiscoveryFinishedBuildItem beans,
            BuildProducer<SyntheticBeanBuildItem> syntheticBeans) {
        List<DynamicConfigPropertyDef> properties = new ArrayList<>();
        for (InjectionPointInfo point : beans.getInjectionPoints()) {
            AnnotationInstance property = point.getRequiredQualifier(CONFIG_PROPERTY);
            AnnotationTarget target = point.getTarget();
            if (property == null || target.kind() != AnnotationTarget.Kind.FIELD) {
                continue;
            }
            AnnotationInstance dynamic = target.asField().annotation(DYNAMIC);
            if (dynamic != null) {
                properties.add(definition(point, property, dynamic));
            }
        }
        syntheticBeans.produce(SyntheticBeanBuildItem.configure(DynamicConfigPropertyList.class)
                .runtimeValue(recorder.initializePropertiesInfo(properties))
                .unremovable()
                .setRuntimeInit()
                .done());
    }

    /** The property's name, value type (the T of its Supplier), default, label, description, requirements. */
    private static DynamicConfigPropertyDef definition(InjectionPointInfo point, AnnotationInstance property,
            AnnotationInstance dynamic) {
        String name = property.value("name").asString();
        AnnotationValue defaultValue = property.value("defaultValue");
        if (defaultValue == null) {
            throw new IllegalStateException("dynamic configuration property " + name + " has no default value");
        }
        String typeName = point.getRequiredType().asParameterizedType().arguments().get(0).name().toString();
        Class<?> type;
        try {
            type = Class.forName(typeName, false, Thread.currentThread().getContextClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("dynamic configuration property " + name + ": no class " + typeName, e);
        }
        DynamicConfigPropertyDef definition = new DynamicConfigPropertyDef(name, type, defaultValue.asString());
        AnnotationValue label = dynamic.value("label");
        AnnotationValue description = dynamic.value("description");
        AnnotationValue requires = dynamic.value("requires");
        if (label != null) {
            definition.setLabel(label.asString());
        }
        if (description != null) {
            definition.setDescription(description.asString());
        }
        if (requires != null) {
            definition.setRequires(requires.asStringArray());
        }
        return definition;
    }
}
