-- Every object of the extension, one sorted line each, as it is defined in the catalogue: run in
-- an updated and in a freshly created database, the two outputs must be the same.
WITH members AS (
  SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
   WHERE e.extname = 'custprofile' AND d.deptype = 'e'
)
SELECT line FROM (
  SELECT format('function %s returns %s | %s | lang=%s vol=%s par=%s strict=%s secdef=%s kind=%s | config=%s | acl=%s | src=%s | comment=%s',
                p.oid::regprocedure, pg_get_function_result(p.oid), pg_get_function_arguments(p.oid),
                l.lanname, p.provolatile, p.proparallel, p.proisstrict, p.prosecdef, p.prokind,
                p.proconfig, p.proacl, md5(p.prosrc), md5(coalesce(obj_description(p.oid, 'pg_proc'), ''))) AS line
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    JOIN pg_language l ON l.oid = p.prolang
  UNION ALL
  SELECT format('relation %s kind=%s rls=%s acl=%s comment=%s view=%s',
                c.oid::regclass, c.relkind, c.relrowsecurity, c.relacl,
                md5(coalesce(obj_description(c.oid, 'pg_class'), '')),
                CASE WHEN c.relkind IN ('v', 'm') THEN md5(pg_get_viewdef(c.oid)) END)
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
  UNION ALL
  SELECT format('column %s.%s %s notnull=%s default=%s generated=%s comment=%s', a.attrelid::regclass, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attgenerated,
                md5(coalesce(col_description(a.attrelid, a.attnum), '')))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  UNION ALL
  SELECT format('constraint %s on %s: %s', co.conname, co.conrelid::regclass, pg_get_constraintdef(co.oid))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    JOIN pg_constraint co ON co.conrelid = c.oid
  UNION ALL
  SELECT format('index %s', pg_get_indexdef(i.indexrelid))
    FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
  UNION ALL
  SELECT format('trigger %s', pg_get_triggerdef(t.oid))
    FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid AND NOT t.tgisinternal
  UNION ALL
  SELECT format('policy %s on %s cmd=%s roles=%s using=%s check=%s', po.polname, po.polrelid::regclass, po.polcmd,
                po.polroles::regrole[], pg_get_expr(po.polqual, po.polrelid), pg_get_expr(po.polwithcheck, po.polrelid))
    FROM members m JOIN pg_policy po ON m.classid = 'pg_class'::regclass AND po.polrelid = m.objid
  UNION ALL
  SELECT format('aggregate %s trans=%s final=%s combine=%s serial=%s deserial=%s', a.aggfnoid::regprocedure,
                a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn)
    FROM members m JOIN pg_aggregate a ON m.classid = 'pg_proc'::regclass AND a.aggfnoid = m.objid
  UNION ALL
  SELECT format('config %s %s', unnest(e.extconfig)::regclass, unnest(e.extcondition)) FROM pg_extension e
   WHERE e.extname = 'custprofile'
  UNION ALL
  SELECT format('schema %s acl %s comment %s', n.nspname, n.nspacl, md5(coalesce(obj_description(n.oid, 'pg_namespace'), '')))
    FROM pg_namespace n WHERE n.nspname IN ('custprofile', 'custprofile_internal')
) lines ORDER BY line;
