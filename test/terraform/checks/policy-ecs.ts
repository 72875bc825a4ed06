// Security claims of the ECS runner, the restore drill and the dashboard, each as a
// check over the module's parsed source (registered in CHECKS by policy.ts; each
// has a breakage test in test/terraform/breakage-ecs.test.ts).
import { getReferencesInExpression } from "@cdktn/hcl2json";
import { isBody, pureExpression, walkStrings } from "./load.ts";
import type { HclBody, HclValue, TfBlock, TfModule } from "./load.ts";
import { documentStatements, policyStatements, roleOtherGrants, rolePolicies } from "./iam.ts";
import type { PolicySource, Statement } from "./iam.ts";

type Emit = (message: string, address?: string) => void;
type Check = (mod: TfModule, emit: Emit) => void | Promise<void>;

export const ECS_TASK_ROLE = "aws_iam_role.ecs_task";
export const VERIFY_TASK_ROLE = "aws_iam_role.verify_task";
export const ECS_EXECUTION_ROLE = "aws_iam_role.ecs_execution";
export const ECS_SCHEDULER_ROLE = "aws_iam_role.ecs_scheduler";

/** Egress rules of the ECS tasks' groups, checked by "ecs-network" instead of "sg-egress". */
export const ECS_EGRESS_RULES: readonly string[] = ["aws_vpc_security_group_egress_rule.ecs_task_https", "aws_vpc_security_group_egress_rule.verify_drill_to_s3"];

/** What the backup task role may do: the function's writer actions (no logs, no ENIs: Fargate does those) plus metrics. */
export const ECS_TASK_ACTIONS: readonly string[] = [
  "s3:PutObject",
  "s3:AbortMultipartUpload",
  "s3:PutObjectTagging",
  "s3:ListBucket",
  "kms:GenerateDataKey",
  "kms:Decrypt",
  "rds-db:connect",
  "secretsmanager:GetSecretValue",
  "cloudwatch:PutMetricData",
];

/** What the drill may do: list, read and decrypt backups, write verify records, publish metrics. */
export const VERIFY_ACTIONS: readonly string[] = ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "kms:Decrypt", "kms:GenerateDataKey", "cloudwatch:PutMetricData"];

/** Container keys only the shared hardening object may set. */
const HARDENING_KEYS = ["essential", "user", "readonlyRootFilesystem", "privileged", "linuxParameters", "mountPoints", "stopTimeout"];

function blocks(v: HclValue | undefined): HclBody[] {
  return Array.isArray(v) ? v.filter((x): x is HclBody => isBody(x)) : [];
}

function isRef(v: HclValue | undefined, address: string, attr: string): boolean {
  return v === `\${${address}.${attr}}` || v === `\${${address}[0].${attr}}`;
}

function local(mod: TfModule, name: string): HclValue | undefined {
  return mod.locals.get(name)?.value;
}

async function roleStatements(mod: TfModule, role: string, emit: Emit): Promise<{ stmts: Statement[]; sources: PolicySource[] }> {
  for (const g of roleOtherGrants(mod, role)) emit(g);
  const stmts: Statement[] = [];
  const sources: PolicySource[] = [];
  for (const { policy, source } of await rolePolicies(mod, role)) {
    sources.push(source);
    try {
      stmts.push(...policyStatements(mod, source));
    } catch (err) {
      emit((err as Error).message, policy.address);
    }
  }
  if (stmts.length === 0) emit(`no inline policies found on ${role}`);
  return { stmts, sources };
}

/** Task roles trust ecs-tasks.amazonaws.com of this account only (aws:SourceAccount and aws:SourceArn). */
function checkTaskTrust(mod: TfModule, role: string, emit: Emit): void {
  const r = mod.resources.get(role);
  if (r?.body["assume_role_policy"] !== "${data.aws_iam_policy_document.ecs_tasks_assume_role.json}") return emit(`${role} must use data.aws_iam_policy_document.ecs_tasks_assume_role`, role);
  const doc = mod.dataSources.get("data.aws_iam_policy_document.ecs_tasks_assume_role");
  for (const s of doc ? documentStatements(doc) : []) {
    if (s.principals["Service"]?.join() !== "ecs-tasks.amazonaws.com") emit("task roles must be assumable by ecs-tasks.amazonaws.com only", doc!.address);
    const account = s.conditions.some((c) => c.test === "StringEquals" && c.variable === "aws:SourceAccount" && c.values.join() === "${local.account}");
    const source = s.conditions.some((c) => c.test === "ArnLike" && c.variable === "aws:SourceArn" && c.values.join() === "${local.ecs_task_trust_source_arn}");
    if (!account || !source) emit("task role trust lacks aws:SourceAccount / aws:SourceArn (confused deputy)", doc!.address);
  }
}

function checkActions(stmts: Statement[], allowed: readonly string[], emit: Emit): void {
  for (const s of stmts) {
    if (s.effect !== "Allow") emit(`unexpected ${s.effect} statement ${s.sid ?? ""}`, s.source);
    if (s.notActions.length > 0 || s.notResources.length > 0) emit(`NotAction/NotResource is not allowed (${s.sid ?? "statement"})`, s.source);
    for (const a of s.actions) {
      if (a.includes("*") || a.includes("?")) emit(`wildcard action ${a}`, s.source);
      else if (!allowed.includes(a)) emit(`action ${a} is not allowed`, s.source);
    }
  }
}

/** PutMetricData has no resource-level permissions: "*" is allowed only with the namespace condition. */
function checkMetricStatements(stmts: Statement[], emit: Emit): void {
  const metric = stmts.filter((s) => s.actions.includes("cloudwatch:PutMetricData"));
  if (metric.length === 0) emit("no cloudwatch:PutMetricData statement (EMF in awslogs output is not extracted)");
  for (const s of stmts) {
    if (s.resources.includes("*") && !(s.actions.length === 1 && s.actions[0] === "cloudwatch:PutMetricData")) emit(`resource * for ${s.actions.join(", ")}`, s.source);
  }
  for (const s of metric) {
    if (s.actions.length !== 1) emit("PutMetricData must be alone in its statement", s.source);
    if (!s.conditions.some((c) => c.test === "StringEquals" && c.variable === "cloudwatch:namespace" && c.values.join() === "${local.metrics_namespace}")) {
      emit("PutMetricData must carry condition StringEquals cloudwatch:namespace = local.metrics_namespace", s.source);
    }
  }
}

/** The references (after following locals) an expression depends on. */
async function dependsOn(mod: TfModule, value: HclValue, file: string, seen = new Set<string>()): Promise<string[]> {
  const out: string[] = [];
  for (const { value: s } of walkStrings(value)) {
    if (!s.includes("${")) continue;
    const refs = (await getReferencesInExpression(file, s)) as { value: string }[];
    for (const { value: ref } of refs) {
      const m = /^local\.(\w+)/.exec(ref);
      if (m) {
        if (seen.has(m[1]!)) continue;
        seen.add(m[1]!);
        const l = mod.locals.get(m[1]!);
        if (l) out.push(...(await dependsOn(mod, l.value, l.file, seen)));
        continue;
      }
      out.push(ref);
    }
  }
  return out;
}

function taskDefinitions(mod: TfModule): TfBlock[] {
  return [...mod.resources.values()].filter((r) => r.type === "aws_ecs_task_definition");
}

export const ECS_CHECKS: Readonly<Record<string, Check>> = {
  "ecs-task-role": async (mod, emit) => {
    checkTaskTrust(mod, ECS_TASK_ROLE, emit);
    const { stmts, sources } = await roleStatements(mod, ECS_TASK_ROLE, emit);
    checkActions(stmts, ECS_TASK_ACTIONS, emit);
    checkMetricStatements(stmts, emit);
    // One policy source with the function: the same template and the same documents, not copies.
    const fnSources = (await rolePolicies(mod, "aws_iam_role.lambda")).map((p) => `${p.source.kind}:${p.source.ref}`);
    for (const src of sources) {
      const key = `${src.kind}:${src.ref}`;
      if (src.ref === "data.aws_iam_policy_document.put_metrics") continue;
      if (!fnSources.includes(key)) emit(`task role policy ${key} is not one of the function's policy sources (a copy?)`);
    }
    for (const want of ["template:templates/backup-writer-policy.json.tftpl", "document:data.aws_iam_policy_document.rds_connect", "document:data.aws_iam_policy_document.db_secret"]) {
      if (!sources.some((s) => `${s.kind}:${s.ref}` === want)) emit(`task role lacks the function's ${want}`);
    }
  },

  "verify-role": async (mod, emit) => {
    checkTaskTrust(mod, VERIFY_TASK_ROLE, emit);
    const { stmts } = await roleStatements(mod, VERIFY_TASK_ROLE, emit);
    checkActions(stmts, VERIFY_ACTIONS, emit);
    checkMetricStatements(stmts, emit);
    const bucket = "${aws_s3_bucket.this.arn}";
    const prefix = "${local.backup_prefix}";
    for (const s of stmts) {
      for (const a of s.actions) {
        if (a === "s3:PutObject" || a === "s3:PutObjectTagging") {
          if (s.resources.join() !== `${bucket}/${prefix}/*.verify.json`) emit(`${a} must be on ${bucket}/${prefix}/*.verify.json only (verify records), is on ${s.resources.join(", ")}`, s.source);
        } else if (a === "s3:GetObject") {
          if (s.resources.join() !== `${bucket}/${prefix}/*`) emit(`s3:GetObject must be on ${bucket}/${prefix}/* only`, s.source);
        } else if (a === "s3:ListBucket") {
          if (s.resources.join() !== bucket || !s.conditions.some((c) => c.variable === "s3:prefix" && c.values.join() === `${prefix}/*`)) emit("s3:ListBucket must be on the bucket with s3:prefix = <prefix>/*", s.source);
        } else if (a.startsWith("kms:")) {
          if (s.resources.join() !== "${local.kms_key_arn}" || !s.conditions.some((c) => c.variable === "kms:ViaService")) emit(`${a} must be on the backup key via S3 only`, s.source);
        }
      }
    }
  },

  "ecs-execution-role": async (mod, emit) => {
    const { stmts } = await roleStatements(mod, ECS_EXECUTION_ROLE, emit);
    const allowed = ["logs:CreateLogStream", "logs:PutLogEvents", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:GetAuthorizationToken"];
    checkActions(stmts, allowed, emit);
    for (const s of stmts) {
      const r = s.resources.join();
      if (s.actions.some((a) => a.startsWith("logs:")) && r !== "${aws_cloudwatch_log_group.ecs[0].arn}:log-stream:*") emit(`logs actions must be on the tasks' log group only, are on ${r}`, s.source);
      if (s.actions.includes("ecr:GetAuthorizationToken") && s.actions.length !== 1) emit("ecr:GetAuthorizationToken (Resource *) must be alone in its statement", s.source);
      if (s.actions.some((a) => a.startsWith("ecr:") && a !== "ecr:GetAuthorizationToken") && r !== "${statement.value}") emit(`image pull must be scoped to the repositories, is on ${r}`, s.source);
      if (r === "*" && !(s.actions.length === 1 && s.actions[0] === "ecr:GetAuthorizationToken")) emit(`resource * for ${s.actions.join(", ")}`, s.source);
    }
    const pull = mod.dataSources.get("data.aws_iam_policy_document.ecs_execution");
    const dyn = isBody(pull?.body["dynamic"]) ? blocks(pull.body["dynamic"]["statement"]) : [];
    if (!dyn.some((d) => d["for_each"] === "${local.pulls_from_ecr ? [local.ecr_repository_arns] : []}")) emit("the pull statement must cover exactly local.ecr_repository_arns");
  },

  "ecs-scheduler": async (mod, emit) => {
    const { stmts } = await roleStatements(mod, ECS_SCHEDULER_ROLE, emit);
    checkActions(stmts, ["ecs:RunTask", "iam:PassRole"], emit);
    for (const s of stmts) {
      if (s.actions.includes("ecs:RunTask")) {
        if (s.resources.join() !== "${local.ecs_task_definition_arns}") emit("ecs:RunTask must be on the module's task definitions only", s.source);
        if (!s.conditions.some((c) => c.variable === "ecs:cluster" && c.values.join() === "${local.ecs_cluster_arn}")) emit("ecs:RunTask must carry condition ecs:cluster = the module's cluster", s.source);
      }
      if (s.actions.includes("iam:PassRole")) {
        if (s.resources.join() !== "${local.ecs_passed_role_arns}") emit("iam:PassRole must be on local.ecs_passed_role_arns only", s.source);
        if (!s.conditions.some((c) => c.test === "StringEquals" && c.variable === "iam:PassedToService" && c.values.join() === "ecs-tasks.amazonaws.com")) emit("iam:PassRole must carry condition StringEquals iam:PassedToService = ecs-tasks.amazonaws.com", s.source);
      }
    }
    const passed = await dependsOn(mod, "${local.ecs_passed_role_arns}", "ecs_iam.tf");
    const roles = [...new Set(passed.filter((r) => r.startsWith("aws_iam_role.")).map((r) => r.split(".").slice(0, 2).join(".")))].sort();
    if (roles.join() !== [ECS_EXECUTION_ROLE, ECS_TASK_ROLE, VERIFY_TASK_ROLE].sort().join()) emit(`the scheduler may pass exactly the execution, task and drill roles, passes ${roles.join(", ")}`);
    const role = mod.resources.get(ECS_SCHEDULER_ROLE);
    if (role?.body["assume_role_policy"] !== "${data.aws_iam_policy_document.scheduler_assume_role.json}") emit("the ECS scheduler role must use the schedule-group-scoped trust policy", ECS_SCHEDULER_ROLE);
    for (const [address, sg] of [
      ["aws_scheduler_schedule.ecs_backup", "${aws_security_group.lambda.id}"],
      ["aws_scheduler_schedule.verify", "${aws_security_group.verify_drill[0].id}"],
    ] as const) {
      const sched = mod.resources.get(address);
      if (!sched) {
        emit(`${address} not found`);
        continue;
      }
      const target = blocks(sched.body["target"])[0];
      if (!isRef(target?.["role_arn"], ECS_SCHEDULER_ROLE, "arn")) emit(`${address} must use ${ECS_SCHEDULER_ROLE}`, address);
      const ecs = blocks(target?.["ecs_parameters"])[0];
      const net = blocks(ecs?.["network_configuration"])[0];
      if (ecs?.["launch_type"] !== "FARGATE") emit("launch_type must be FARGATE", address);
      if (net?.["assign_public_ip"] !== false) emit("assign_public_ip must be literally false", address);
      if (net?.["subnets"] !== "${local.subnet_ids}") emit("the tasks must run in the module's subnets (local.subnet_ids)", address);
      if (JSON.stringify(net?.["security_groups"]) !== JSON.stringify([sg])) emit(`security_groups must be [${sg}]`, address);
    }
  },

  "ecs-task-definition": (mod, emit) => {
    const hardening = local(mod, "container_hardening");
    if (!isBody(hardening)) return emit("local.container_hardening must be an object literal");
    const expect: Record<string, HclValue> = { essential: true, readonlyRootFilesystem: true, privileged: false, user: "${var.container_user}" };
    for (const [k, v] of Object.entries(expect)) if (JSON.stringify(hardening[k]) !== JSON.stringify(v)) emit(`container ${k} must be ${JSON.stringify(v)}, is ${JSON.stringify(hardening[k] ?? null)}`, "local.container_hardening");
    const lp = hardening["linuxParameters"];
    if (!isBody(lp) || !isBody(lp["capabilities"]) || JSON.stringify(lp["capabilities"]["drop"]) !== '["ALL"]' || "add" in lp["capabilities"]) emit("linuxParameters.capabilities must drop ALL and add nothing", "local.container_hardening");
    const mounts = hardening["mountPoints"];
    if (JSON.stringify(mounts) !== JSON.stringify([{ containerPath: "/tmp", readOnly: false, sourceVolume: "tmp" }])) emit("the only writable mount must be the tmp volume at /tmp", "local.container_hardening");
    const user = mod.variables.get("var.container_user");
    const validation = JSON.stringify(user?.body["validation"] ?? "");
    if (user?.body["default"] === undefined || /^0*(:|$)|^root/.test(String(user.body["default"])) || !validation.includes("^0+(:|$)")) emit("container_user must default to a non-root UID and refuse 0", "var.container_user");
    for (const [name, container] of [["backup_container", "backup"], ["verify_container", "verify"]] as const) {
      const expr = pureExpression(local(mod, name)) ?? "";
      if (!expr.startsWith("merge(local.container_hardening, {")) emit(`local.${name} must be merge(local.container_hardening, {...})`);
      for (const k of HARDENING_KEYS) if (new RegExp(`\\n\\s*${k}\\s*=`).test(expr)) emit(`local.${name} overrides the hardening key ${k}`);
      if (!new RegExp(`command\\s*=\\s*\\["${container}"\\]`).test(expr)) emit(`local.${name} must run the ${container} command`);
      if (!/logDriver\s*=\s*"awslogs"/.test(expr) || !/awslogs-group\s*=\s*local\.ecs_log_group_name/.test(expr)) emit(`local.${name} must log with awslogs to the module's log group`);
    }
    for (const td of taskDefinitions(mod)) {
      if (JSON.stringify(td.body["requires_compatibilities"]) !== '["FARGATE"]') emit("requires_compatibilities must be [FARGATE]", td.address);
      if (td.body["network_mode"] !== "awsvpc") emit("network_mode must be awsvpc", td.address);
      const container = td.address.endsWith(".backup") ? "backup_container" : "verify_container";
      if (td.body["container_definitions"] !== `\${jsonencode([local.${container}])}`) emit(`container_definitions must be jsonencode([local.${container}])`, td.address);
      const vols = blocks(td.body["volume"]);
      if (vols.length !== 1 || JSON.stringify(vols[0]) !== '{"name":"tmp"}') emit("the only volume must be the task-storage bind mount {name = tmp} (no host path, EFS or Docker volume)", td.address);
    }
    const lg = mod.resources.get("aws_cloudwatch_log_group.ecs");
    if (!lg || lg.body["retention_in_days"] !== "${var.log_retention_days}") emit("the tasks' log group must have retention (var.log_retention_days)", "aws_cloudwatch_log_group.ecs");
    // The backup task gets the function's configuration; the drill nothing about the source database.
    if (!(pureExpression(local(mod, "backup_container_environment_all")) ?? "").startsWith("merge(local.function_environment, {")) emit("the backup container's environment must come from local.function_environment");
    const drillEnv = local(mod, "verify_container_environment_all");
    if (!isBody(drillEnv)) return emit("local.verify_container_environment_all must be an object literal");
    for (const k of Object.keys(drillEnv)) if (/^PG|AUTH|SECRET|PASSWORD|INSTANCE/.test(k)) emit(`the drill must not get ${k} (it never connects to the source database)`, "local.verify_container_environment_all");
  },

  "ecs-task-failed-rule": (mod, emit) => {
    const pattern = local(mod, "ecs_task_failed_pattern");
    if (!isBody(pattern) || !isBody(pattern["detail"])) return emit("local.ecs_task_failed_pattern must be an object literal");
    const detail = pattern["detail"];
    if (JSON.stringify(pattern["source"]) !== '["aws.ecs"]' || JSON.stringify(pattern["detail-type"]) !== '["ECS Task State Change"]') emit("the rule must match aws.ecs ECS Task State Change events");
    if (JSON.stringify(detail["lastStatus"]) !== '["STOPPED"]') emit("the rule must match STOPPED tasks");
    if (JSON.stringify(detail["clusterArn"]) !== '["${local.ecs_cluster_arn}"]') emit("the rule must match the module's cluster only");
    if (!String(detail["taskDefinitionArn"]).includes("task-definition/${f}:") || !String(detail["taskDefinitionArn"]).includes("local.ecs_task_families")) emit("the rule must match the module's task families only");
    const or = JSON.stringify(detail["$or"] ?? "");
    if (!or.includes('{"exitCode":[{"anything-but":0}]}')) emit("the rule must match a non-zero container exit code");
    if (!or.includes("TaskFailedToStart")) emit("the rule must match tasks that failed to start");
    const target = mod.resources.get("aws_cloudwatch_event_target.ecs_task_failed");
    if (target?.body["arn"] !== "${local.alarm_topic_arn}") emit("the rule's target must be the module's alarm topic", "aws_cloudwatch_event_target.ecs_task_failed");
    const topic = mod.dataSources.get("data.aws_iam_policy_document.alarms_topic");
    const events = topic ? documentStatements(topic).find((s) => s.principals["Service"]?.includes("events.amazonaws.com")) : undefined;
    if (!events || !events.conditions.some((c) => c.variable === "aws:SourceArn" && c.values.join() === "${statement.value}")) emit("the topic policy must let only the failed-task rule (aws:SourceArn) publish", "data.aws_iam_policy_document.alarms_topic");
  },

  "drill-alarms": (mod, emit) => {
    const failed = mod.resources.get("aws_cloudwatch_metric_alarm.verify_failed");
    const stale = mod.resources.get("aws_cloudwatch_metric_alarm.verify_stale");
    if (!failed || failed.body["metric_name"] !== "VerifyFailed" || failed.body["comparison_operator"] !== "GreaterThanThreshold" || failed.body["threshold"] !== 0) emit("an alarm must fire on VerifyFailed > 0");
    if (!stale || stale.body["metric_name"] !== "VerifySucceeded") return emit("an alarm must watch VerifySucceeded (stale drills)");
    if (stale.body["treat_missing_data"] !== "breaching") emit("the stale-drill alarm must treat missing data as breaching", stale.address);
    if (stale.body["evaluation_periods"] !== "${var.verify_max_age_days * 24}" || stale.body["period"] !== 3600 || stale.body["datapoints_to_alarm"] !== stale.body["evaluation_periods"]) emit("the stale-drill alarm must look back verify_max_age_days in hourly periods, all breaching", stale.address);
    for (const a of [failed, stale].filter((x): x is TfBlock => x !== undefined)) if (JSON.stringify(a.body["dimensions"]) !== '{"service":"${local.name}"}') emit("drill alarms must use the dimension service = local.name", a.address);
  },

  dashboard: (mod, emit) => {
    const d = mod.resources.get("aws_cloudwatch_dashboard.this");
    if (!d || d.body["count"] !== "${var.create_dashboard ? 1 : 0}") return emit("aws_cloudwatch_dashboard.this must exist, counted on var.create_dashboard");
    if (mod.variables.get("var.create_dashboard")?.body["default"] !== true) emit("create_dashboard must default to true", "var.create_dashboard");
    if (!String(mod.outputs.get("output.dashboard_url")?.body["value"] ?? "").includes("aws_cloudwatch_dashboard.this[0].dashboard_name")) emit("output dashboard_url must link the dashboard");
    const widgets = JSON.stringify(local(mod, "dashboard_widgets") ?? "");
    const searches = JSON.stringify(local(mod, "metric_search") ?? "");
    for (const metric of ["BackupDuration", "BackupBytes", "BackupThroughput"]) {
      if (!searches.includes(`${metric} `) || !widgets.includes(`local.metric_search[\\"${metric}\\"]`)) emit(`the dashboard has no widget for ${metric} per database`);
    }
    for (const want of ["backup done", "BackupSucceeded", "VerifySucceeded", "VerifyFailed", "DatabaseVerifyFailed", "local.runner_limit_annotation"]) if (!widgets.includes(want)) emit(`the dashboard has no widget for ${want}`);
  },

  "ecs-network": (mod, emit) => {
    const rules = [...mod.resources.values()].filter((r) => r.type === "aws_vpc_security_group_egress_rule");
    const tasks = mod.resources.get(ECS_EGRESS_RULES[0]!);
    if (!tasks) return emit(`${ECS_EGRESS_RULES[0]} not found`);
    const sig = (r: TfBlock) => `${String(r.body["ip_protocol"])} ${String(r.body["from_port"])}-${String(r.body["to_port"])}`;
    if (sig(tasks) !== "tcp 443-443") emit(`the tasks' AWS API egress must be tcp 443 only, is ${sig(tasks)}`, tasks.address);
    if (tasks.body["for_each"] !== "${local.ecs_https_egress}" || tasks.body["security_group_id"] !== "${local.ecs_task_security_groups[each.value.task]}") emit("the tasks' AWS API egress must come from local.ecs_https_egress", tasks.address);
    if (tasks.body["cidr_ipv4"] !== '${each.value.kind == "cidr" ? var.ecs_https_egress_cidr_blocks[each.value.index] : null}') emit("CIDR destinations must be var.ecs_https_egress_cidr_blocks only", tasks.address);
    if (tasks.body["referenced_security_group_id"] !== '${each.value.kind == "endpoint" ? local.ecs_endpoint_sg_ids[each.value.index] : null}') emit("group destinations must be the endpoints' groups only", tasks.address);
    const drillSg = "${aws_security_group.verify_drill[0].id}";
    const sg = mod.resources.get("aws_security_group.verify_drill");
    for (const inline of ["egress", "ingress"]) if (sg && inline in sg.body) emit(`the drill's group must not have inline ${inline} blocks`, sg.address);
    for (const r of rules.filter((x) => x.body["security_group_id"] === drillSg)) {
      if (r.address !== ECS_EGRESS_RULES[1]) emit(`unexpected egress rule on the drill's group (it may reach S3 and the AWS API paths only)`, r.address);
      else if (sig(r) !== "tcp 443-443" || r.body["prefix_list_id"] !== "${data.aws_prefix_list.s3.id}") emit("the drill's S3 egress must be tcp 443 to the S3 prefix list", r.address);
    }
    const sgs = local(mod, "ecs_task_security_groups");
    if (!isBody(sgs) || sgs["verify"] !== "${var.verify_enabled ? aws_security_group.verify_drill[0].id : null}" || sgs["backup"] !== "${aws_security_group.lambda.id}") emit("the drill must use its own group and the backup task the function's");
    for (const r of [...mod.resources.values()].filter((x) => x.type === "aws_vpc_security_group_ingress_rule" && x.body["security_group_id"] === "${aws_security_group.ecs_endpoints[0].id}")) {
      if (sig(r) !== "tcp 443-443" || r.body["referenced_security_group_id"] !== "${local.ecs_task_security_groups[each.value]}") emit("the endpoints' group may admit 443 from the tasks' groups only", r.address);
    }
  },

  // count/for_each decide how many instances exist, so Terraform must know them at
  // plan: they may depend on variables and data sources, never on attributes of
  // managed resources (unknown until apply).
  "plan-time": async (mod, emit) => {
    for (const b of [...mod.resources.values(), ...mod.dataSources.values()]) {
      for (const meta of ["count", "for_each"]) {
        if (!(meta in b.body)) continue;
        const refs = await dependsOn(mod, b.body[meta]!, b.file);
        const managed = refs.filter((r) => !/^(var|data|path|terraform|count|each)\./.test(r) && /^[a-z0-9]+_\w+\.\w+/.test(r));
        for (const r of [...new Set(managed)]) emit(`${meta} depends on ${r}, unknown until apply`, b.address);
      }
    }
  },
};
