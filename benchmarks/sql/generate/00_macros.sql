-- Deterministic randomness for the generator: every draw is a hash of (seed, tag, ids), so the same seed
-- gives the same organisation whatever the thread count (random() with setseed is not stable under
-- parallel execution).
create or replace temp macro u(tag, a) as
    ((hash(getvariable('seed'), tag, a) % 1000003)::double + 0.5) / 1000003.0;
create or replace temp macro u2(tag, a, b) as
    ((hash(getvariable('seed'), tag, a, b) % 1000003)::double + 0.5) / 1000003.0;
create or replace temp macro pick(choices, tag, a) as
    choices[1 + (hash(getvariable('seed'), tag, a) % len(choices))::int];
-- durations are exponential (many short, a long tail), which is what PR and incident times look like
create or replace temp macro expo_us(tag, a, mean_hours) as (-ln(u(tag, a)) * mean_hours * 3600e6)::bigint;
-- a 40-hex sha from (service index, position in the repo); md5 is 32 hex, so a second one pads it
create or replace temp macro sha(s, k) as
    md5(concat(getvariable('seed'), '/', s, '/', k)) || left(md5(concat(k, '/', s, '/', getvariable('seed'))), 8);
-- position k of n in a repo maps to a time inside the span, jittered by at most 0.4 slot either way so
-- that commit times stay strictly increasing along the repo's sequence
create or replace temp macro pos_us(s, k, n) as
    getvariable('start_us') + (((k + 0.5 + 0.8 * (u2('ct', s, k) - 0.5)) / n) * getvariable('span_us'))::bigint;
