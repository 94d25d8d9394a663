// Assigns the jitbot custom role to the bot's managed identity over one whole subscription.
targetScope = 'subscription'

@description('Object (principal) id of the bot\'s managed identity.')
param principalId string

@description('Name (GUID) of the jitbot role definition from role.bicep.')
param roleDefinitionName string

var roleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
