"""No module of lab or ui imports itself back through others: not at the top, not inside a function, not for typing.

grimp (import-linter's graph) sees every import statement, those inside functions and
under ``TYPE_CHECKING`` included, so a cycle cannot hide behind a late import.
"""

import grimp


def test_no_import_cycles_in_lab_or_ui():
    graph = grimp.build_graph("lab", "ui")
    cycles = sorted(
        " -> ".join([module, *graph.find_shortest_chain(importer=imported, imported=module)])
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if imported in graph.modules and graph.chain_exists(importer=imported, imported=module)
    )
    assert cycles == []
