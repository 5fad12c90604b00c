// Protocols: tracking plans (form + YAML), source connections with schema controls, violations,
// held messages with re-run, transformations and functions.
import { Card, Page, Tabs } from "../components/ui";
import { Connections } from "../components/protocols/Connections";
import { Functions } from "../components/protocols/Functions";
import { HeldMessages } from "../components/protocols/Held";
import { TrackingPlans } from "../components/protocols/TrackingPlans";
import { Transformations } from "../components/protocols/Transformations";
import { Violations } from "../components/protocols/Violations";
import "../components/protocols/protocols.css";
import type { PageProps } from "../pages";
import { navigate, useLocation } from "../router";
import { useSession } from "../session";

const TABS = [
  { id: "plans", label: "Tracking plans", permission: "tracking-plans:read" },
  { id: "connections", label: "Source connections", permission: "sources:read" },
  { id: "violations", label: "Violations", permission: "violations:read" },
  { id: "held", label: "Held messages", permission: "violations:read" },
  { id: "transformations", label: "Transformations", permission: "tracking-plans:read" },
  { id: "functions", label: "Functions", permission: "functions:read" },
] as const;

type Tab = (typeof TABS)[number]["id"];

export default function Protocols(_props: PageProps) {
  const { params } = useLocation();
  const { permissions } = useSession();
  const visible = TABS.filter((t) => permissions.has(t.permission));
  const asked = params.get("tab");
  const current: Tab = (visible.find((t) => t.id === asked) ?? visible.find((t) => t.id === "violations") ?? visible[0]).id;
  return (
    <Page title="Protocols">
      <Tabs label="Protocols" tabs={visible} current={current} onChange={(id) => navigate(`/protocols?tab=${id}`, true)} />
      <div role="tabpanel" aria-label={TABS.find((t) => t.id === current)?.label} className="page">
        {current === "plans" ? <TrackingPlans /> : null}
        {current === "connections" ? <Connections /> : null}
        {current === "violations" ? <Violations /> : null}
        {current === "held" ? <HeldMessages /> : null}
        {current === "transformations" ? <Transformations /> : null}
        {current === "functions" ? <Functions /> : null}
        {visible.length === 0 ? <Card>Your roles do not include any part of Protocols.</Card> : null}
      </div>
    </Page>
  );
}
