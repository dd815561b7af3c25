// pgobo/databricks.hpp — includes every public header of pgobo::databricks:
// workspace tokens, Lakebase credentials and a Databricks App's configuration.
#pragma once

#include "pgobo/databricks/config.hpp"
#include "pgobo/databricks/lakebase.hpp"
#include "pgobo/databricks/workspace.hpp"
